"""Render a network-config the way a guest's cloud-init would: run by Debian's python3 with Debian's cloud-init.

    /usr/bin/python3 tests/unit/cloud_init_render.py < network-config.json
prints {"eni": {path: text}, "networkd": {path: text}, "netplan": {path: text}} as JSON: the files each
renderer writes (ifupdown's /etc/network/interfaces and udev rules, systemd-networkd's .network files,
netplan's yaml), or {"error": ...} for a renderer that refuses the config.
"""

import json
import os
import sys
import tempfile

from cloudinit.net import eni, netplan, network_state, networkd

RENDERERS = {"eni": eni.Renderer, "networkd": networkd.Renderer, "netplan": netplan.Renderer}


def render(config):
    state = network_state.parse_net_config_data(config)
    out = {}
    for name, renderer in RENDERERS.items():
        with tempfile.TemporaryDirectory() as target:
            try:
                # each writes under `target` only (netplan's default runs no `netplan generate`)
                renderer().render_network_state(state, target=target)
            except Exception as exc:  # noqa: BLE001 - the test reports which renderer refused and why
                out[name] = {"error": f"{type(exc).__name__}: {exc}"}
                continue
            files = {}
            for root, _, names in os.walk(target):
                for file_name in names:
                    path = os.path.join(root, file_name)
                    with open(path, encoding="utf-8") as handle:
                        files[path[len(target):]] = handle.read()
            out[name] = files
    return out


if __name__ == "__main__":
    json.dump(render(json.load(sys.stdin)), sys.stdout)
