"""JSON schemas of the operations' variables, derived from the modules' argument specs.

`vm_create`'s variables are `vmm.cloud.vm`'s options: the schema is built from
VM_SPEC, the argument spec that module uses (module_utils/argument_specs.py:
types, choices, defaults, sub-options), then every
string gets the tighter format the API accepts, so that a name with `/`, `..`,
quotes, spaces or XML never reaches a playbook.
"""

from __future__ import annotations

from ansible_collections.vmm.cloud.plugins.module_utils.argument_specs import VM_SPEC

# Like the modules' NAME_RE, without '..' and without a trailing '.'; no look-ahead, so
# schema-driven generators (schemathesis) can produce matching names.
NAME = {"type": "string", "pattern": r"^[A-Za-z0-9](\.?[A-Za-z0-9_-])*$", "maxLength": 64,
        "description": "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit, no '..'"}
LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME = {"type": "string", "pattern": rf"^{LABEL}(\.{LABEL})*$", "maxLength": 253,
            "description": "a host name: dot-separated labels of letters, digits and '-', 63 characters at most each"}
ONE_LINE = {"type": "string", "pattern": r"^[^\r\n\x00]*$"}
SSH_KEY = {"type": "string", "maxLength": 16384, "description": "an OpenSSH public key: type, base64 key, comment",
           "pattern": r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com"
                      r"|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\r\n\x00]*)?$"}
TIMEOUT = {"type": "integer", "minimum": 0, "maximum": 86400}
IPV6 = r"[0-9A-Fa-f]{0,4}(:[0-9A-Fa-f]{0,4}){2,7}"
IPV4 = r"((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])"

# Formats of the API by option path; an option not listed here and not in the spec's
# choices is refused (see _format()): no option reaches the API as a free string.
FORMATS = {
    "name": NAME,
    "image": NAME,  # a name in the image store: no paths through the API
    "owner": NAME,
    "vcpus": {"type": "integer", "minimum": 1, "maximum": 512},
    "max_vcpus": {"type": "integer", "minimum": 1, "maximum": 512},
    "memory": {"type": "integer", "minimum": 16, "maximum": 4 * 1024 * 1024},
    "max_memory": {"type": "integer", "minimum": 16, "maximum": 4 * 1024 * 1024},
    "disk_size": {"type": "integer", "minimum": 1, "maximum": 65536},
    "shutdown_timeout": TIMEOUT,
    "wait_timeout": TIMEOUT,
    "machine": {"type": "string", "pattern": r"^[a-z0-9]+([._-][a-z0-9]+)*$", "maxLength": 64},
    "target": NAME,  # a node name
    "node": NAME,
    "cluster": NAME,
    "networks.network": NAME,
    "networks.bridge": {**NAME, "maxLength": 15},
    "networks.mac": {"type": "string", "pattern": r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$"},
    "cloud_init.hostname": HOSTNAME,
    "cloud_init.fqdn": HOSTNAME,
    "cloud_init.ssh_authorized_keys": SSH_KEY,
    "cloud_init.password": {**ONE_LINE, "minLength": 1, "maxLength": 256},
    "networks.routed": {"type": "string", "maxLength": 15, "description": "auto (from an IP pool) or an IPv4 address",
                        "pattern": rf"^(auto|{IPV4})$"},
    "networks.ipv4": {"type": "string", "maxLength": 15, "pattern": rf"^(auto|none|{IPV4})$",
                      "description": "auto (from the IP pools serving the NIC), none (DHCP) or an IPv4 address"},
    "networks.ipv6": {"type": "string", "maxLength": 39, "pattern": rf"^(auto|none|{IPV6})$",
                      "description": "auto (from the IP pools serving the NIC), none or an IPv6 address"},
    "console.listen": {"type": "string", "maxLength": 39, "description": "an IPv4 or IPv6 address",
                       "pattern": rf"^({IPV4}|{IPV6})$"},
    "address": {"type": "string", "maxLength": 39, "pattern": rf"^(auto|{IPV4}|{IPV6})$",
                "description": "auto (the lowest free address of the IP pools serving the NIC) or an IPv4 or IPv6 "
                               "address"},
    "nic": {"type": "integer", "minimum": 0, "maximum": 15},
    "count": {"type": "integer", "minimum": 1, "maximum": 64},
    "console.password": {**ONE_LINE, "minLength": 1, "maxLength": 8},  # VNC passwords are 8 characters at most
    "snapshot": NAME,
    "backup": NAME,
    "disk": NAME,
    "size": {"type": "integer", "minimum": 1, "maximum": 65536},
    "restore_as": NAME,
    "managed_disks": {"type": "string", "pattern": r"^(vd|sd|hd|xvd)[a-z]{1,2}$", "maxLength": 5},
    "iso": {"type": "string", "maxLength": 64, "pattern": r"^([A-Za-z0-9](\.?[A-Za-z0-9_-])*)?$",
            "description": "an ISO image of the store, or empty to eject"},
    "keep": {"type": "integer", "minimum": 1, "maximum": 1000},
    "description": {**ONE_LINE, "maxLength": 1024},
}

SECRET_PATHS = {"cloud_init.password", "console.password"}

_TYPES = {"int": "integer", "bool": "boolean", "dict": "object", "list": "array", "str": "string"}


def _format(path):
    if path not in FORMATS:
        raise KeyError(f"option {path} has no API format: add it to FORMATS")
    return dict(FORMATS[path])


def _option_schema(path, option):
    kind = option.get("type", "str")
    if "choices" in option:
        schema = {"type": _TYPES[kind], "enum": list(option["choices"])}
    elif kind == "list":
        elements = option.get("elements", "str")
        if elements == "dict":
            items = object_schema(option.get("options", {}), path=path)
        else:
            items = _format(path) if elements == "str" else {"type": _TYPES[elements]}
        schema = {"type": "array", "items": items, "maxItems": 16}
    elif kind == "dict":
        schema = object_schema(option["options"], path=path) if "options" in option else {"type": "object"}
    elif kind == "bool":  # whatever FORMATS has under that name (vm_snapshot's memory is not vm_create's)
        schema = {"type": "boolean"}
    elif kind == "str" or path in FORMATS:
        schema = _format(path)
    else:
        schema = {"type": _TYPES[kind]}
    if option.get("default") is not None:
        schema["default"] = option["default"]
    return schema


def object_schema(spec, keep=None, required=(), path=""):
    """A closed JSON schema object of the options of `spec` (all of them, or those in `keep`)."""
    names = [name for name in spec if keep is None or name in keep]
    properties = {name: _option_schema(f"{path}.{name}".lstrip("."), spec[name]) for name in names}
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    wanted = [name for name in names if name in required or spec[name].get("required")]
    if wanted:
        schema["required"] = wanted
    return schema


def vm_schema(keep, required=("name",)):
    schema = object_schema(VM_SPEC, keep=keep, required=required)
    networks = schema["properties"].get("networks")
    if networks:  # a NIC is on a libvirt network, on a bridge or routed: exactly one of them
        kinds = ("network", "bridge", "routed")
        networks["items"]["oneOf"] = [{"required": [kind], "not": {"anyOf": [{"required": [other]}
                                                                          for other in kinds if other != kind]}}
                                      for kind in kinds]
    return schema


def redact(value, secrets=SECRET_PATHS, path=""):
    """`value` with the secret options replaced, as AWX does, by '$encrypted$'."""
    if isinstance(value, dict):
        return {key: "$encrypted$" if f"{path}.{key}".lstrip(".") in secrets and item is not None
                else redact(item, secrets, f"{path}.{key}".lstrip(".")) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item, secrets, path) for item in value]
    return value
