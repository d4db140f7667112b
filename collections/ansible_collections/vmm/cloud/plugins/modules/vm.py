#!/usr/bin/python
# Copyright (c) 2026 vmm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vm
short_description: Create, update, power and delete KVM/QEMU virtual machines
description:
  - Declarative management of one libvirt domain.
  - A new VM gets a copy-on-write qcow2 overlay on an image of the store (or a full copy with O(clone=full)),
    grown to O(disk_size), and a cloud-init NoCloud seed with its hostname, SSH keys, password and network settings.
  - A changed O(vcpus), O(memory) or O(disk_size) of an existing VM is applied to the running guest where libvirt
    can, otherwise at its next boot; RV(update) says which.
  - Owner, image, cluster, creation time and static IPs are kept in the domain's C(<metadata>).
version_added: 0.1.0
author: vmm contributors (@vmm-dev)
options:
  name:
    description: VM name (1-64 letters, digits, C(.), C(_) or C(-); no C(..)).
    type: str
    required: true
  uri:
    description: libvirt connection URI.
    type: str
    default: qemu:///system
  state:
    description:
      - V(present) defines the VM without changing its power state; V(running), V(stopped) and V(restarted) also set
        the power state; V(absent) removes the VM, its overlay and its seed, never the base image.
      - V(reinstalled) gives an existing VM a new system disk from O(image) (the image it was made from when unset)
        and, with O(cloud_init), a new seed (new password or keys; the old seed stays otherwise). Name, UUID, MACs,
        addresses, owner and sizes stay; O(disk_size) may grow the new disk, never shrink it. The new disk and seed
        are made beside the old ones first, so a failure leaves the VM as it was; then the VM is powered off, its
        snapshots (which lived in the old disk) are dropped, the files are swapped and the VM is started. It
        changes the VM at every run, as V(restarted) does.
    type: str
    choices: [present, running, stopped, restarted, reinstalled, absent]
    default: present
  image:
    description: Image store name or absolute path of the base image; required to create.
    type: str
  clone:
    description: V(overlay) makes a qcow2 overlay on the image; V(full) copies it.
    type: str
    choices: [overlay, full]
    default: overlay
  vcpus:
    description: Number of virtual CPUs; a new VM gets 1 when unset, an existing one keeps what it has.
    type: int
  max_vcpus:
    description: vCPUs the VM can be given live without a restart (defaults to O(vcpus)).
    type: int
  memory:
    description: Memory in MiB; a new VM gets 512 when unset, an existing one keeps what it has.
    type: int
  max_memory:
    description: Memory in MiB the VM can be given live without a restart (defaults to O(memory)).
    type: int
  disk_size:
    description: Size of the system disk in GiB; defaults to the image's size. Disks grow, never shrink.
    type: int
  networks:
    description:
      - Network interfaces, in order. A new VM gets one NIC on the libvirt network C(default) when unset;
        an existing one keeps its NICs.
    type: list
    elements: dict
    suboptions:
      network:
        description: A libvirt network name.
        type: str
      bridge:
        description: A host bridge name.
        type: str
      routed:
        description:
          - An IPv4 address routed to the VM through the node (a cluster in routed mode, such as Hetzner's). The
            NIC is a tap device with a /32 route to this address; the node's own address is the VM's gateway.
          - V(auto) takes the address from an IP pool serving routed NICs (O(ip_pools)), as O(networks[].ipv4=auto).
          - A new VM without a C(network_config) of its own gets one that sets this address and gateway.
        type: str
      ipv4:
        description:
          - V(auto) gives the NIC the lowest free IPv4 address of the first pool in O(ip_pools) serving it (its
            network, bridge or routed mode, and the VM's cluster); an address is checked against those pools
            and every VM; V(none) gives it no static IPv4 address (DHCP).
          - Unset, a new VM gets V(auto) where a pool of that version serves the NIC, V(none) elsewhere; an
            existing NIC keeps what it holds.
          - The guest is told its addresses, gateway and DNS through the seed (O(cloud_init.network_config)
            unset). The VM's definition records them; it is the only record, so deleting the VM frees them.
          - The guest's IPv4 default route goes through its first NIC that has one (a NIC on DHCP included); a
            later NIC's pool gateway is left out of the seed.
        type: str
      ipv6:
        description:
          - As O(networks[].ipv4), for IPv6.
          - On a routed NIC, an address of its own (a /128 routed to the VM's tap, whose link-local C(fe80::1) is
            the guest's gateway), from a pool serving routed NICs or as given. Where the prefix is on the uplink's
            link, the node role's proxy NDP (ndppd, for the routed pools' prefixes) answers for it there.
        type: str
      mac:
        description:
          - MAC address; vmm picks one (52:54:00:...) when unset, and it is kept afterwards.
          - The seed's network configuration matches the NIC by this address.
        type: str
      model:
        description: NIC model.
        type: str
        choices: [virtio, e1000, rtl8139]
        default: virtio
  cloud_init:
    description:
      - What goes into the NoCloud seed. Unset on an existing VM keeps its seed; a changed seed is rewritten
        and read by the guest at its next boot.
    type: dict
    suboptions:
      hostname:
        description: Guest hostname; defaults to O(name).
        type: str
      fqdn:
        description: Guest FQDN.
        type: str
      ssh_authorized_keys:
        description: Public keys for the default user.
        type: list
        elements: str
      password:
        description: Password for the default user.
        type: str
      network_config:
        description:
          - Network configuration (cloud-init network config version 2), written to the seed as given.
          - When unset, each NIC is matched by its MAC and named C(eth0), C(eth1), ... with DHCP, or for a routed NIC
            its address as a /32, the node's address as C(gateway4) and a link route to it (so that
            systemd-networkd, not only ifupdown, reaches a gateway outside the /32). Both forms are tested on real
            Debian 12 guests with ifupdown and with systemd-networkd.
        type: dict
      user_data:
        description: Extra cloud-config keys, merged into the generated user-data.
        type: dict
  console:
    description: Graphical console; a new VM gets VNC on 127.0.0.1 when unset, an existing one keeps its console.
    type: dict
    suboptions:
      type:
        description: V(vnc) or V(none).
        type: str
        choices: [vnc, none]
        default: vnc
      listen:
        description: Address the VNC server listens on.
        type: str
        default: 127.0.0.1
      password:
        description: VNC password.
        type: str
  autostart:
    description: Start the VM when the node boots; unset keeps the current setting (off for a new VM).
    type: bool
  owner:
    description: Owner recorded in the VM's metadata.
    type: str
  keep_owner:
    description:
      - When the VM exists and its recorded owner is not O(owner), fail instead of giving it to O(owner). The
        vmm jobs API sets it for its users' creates, so a name of someone else's VM never changes hands.
    type: bool
    default: false
  cluster:
    description: Cluster recorded in the VM's metadata.
    type: str
  ha:
    description: Mark the VM for restart elsewhere when its node dies; unset keeps the current mark.
    type: bool
  domain_type:
    description:
      - V(kvm) for hardware virtualization, V(qemu) for software emulation.
      - V(auto) takes what the node bootstrap's probe found to really boot, else V(kvm) when libvirt offers it.
      - An existing VM keeps its type under V(auto).
    type: str
    choices: [auto, kvm, qemu]
    default: auto
  machine:
    description: QEMU machine type of a new VM.
    type: str
    default: pc
  pool:
    description: libvirt directory pool holding VM disks and seeds.
    type: str
    default: vmm
  image_pool:
    description: libvirt directory pool of the image store.
    type: str
    default: vmm-images
  shutdown_timeout:
    description: Seconds to wait for a graceful shutdown before powering off; V(0) powers off at once.
    type: int
    default: 120
  wait_for_ip:
    description: After starting, wait until every NIC on a libvirt network has a DHCP lease.
    type: bool
    default: false
  wait_timeout:
    description: Seconds O(wait_for_ip) waits at most.
    type: int
    default: 60
  anti_spoofing:
    description:
      - Bind each NIC that holds pool addresses to a libvirt nwfilter with them, so that the guest's traffic leaves
        only from its own MAC and addresses (ebtables rules on the node). IPv4 only, libvirt's C(clean-traffic)
        (which drops all IPv6); with IPv6, the collection's C(vmm-clean-traffic), defined on the node by this
        module.
      - Routed NICs (tap devices on no bridge, outside ebtables' reach) are not bound; the node role's routed mode
        filters them by reverse path (what a VM sends from an address not routed to its tap is dropped), whatever
        this option says.
    type: bool
    default: true
  disks:
    description:
      - Data disks besides the system disk, by name; disks of the VM not listed are left as they are. Each is a qcow2
        file C(<pool>/<vm>-<name>.qcow2) on virtio. A new one is attached to a running guest at once; a bigger
        O(disks[].size) grows it (live when the VM runs), never shrinks it; V(absent) detaches it (a running guest
        must let it go) and deletes the file.
      - A reinstall keeps them; deleting the VM deletes them.
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the disk (1-64 letters, digits, C(.), C(_) or C(-)).
        type: str
        required: true
      size:
        description: Size in GiB; required to add one.
        type: int
      pool:
        description: libvirt directory pool of a new disk (defaults to O(pool)).
        type: str
      state:
        description: V(present) or V(absent).
        type: str
        choices: [present, absent]
        default: present
  snapshot_limit:
    description:
      - How many snapshots M(vmm.cloud.vm_snapshot) may keep of this VM (recorded in its metadata; an
        administrator's setting, not among the options the jobs API takes from users). Unset keeps the current
        limit; a VM without one takes the limit the snapshot module is given.
    type: int
  iso:
    description:
      - An ISO image of the image store (see M(vmm.cloud.image)) in the VM's CD-ROM drive, booted before its disks,
        for a manual install. An empty string ejects it. Unset leaves the drive as it is.
      - A running VM boots from it at its next start (the field is listed in RV(update.pending_restart)).
      - A VM created with an ISO and without O(image) gets a blank system disk of O(disk_size) GiB.
    type: str
  rescue:
    description:
      - V(true) puts the VM in rescue mode, V(false) takes it out; unset leaves it as it is.
      - In rescue mode the VM boots O(rescue_image) from its CD-ROM drive with all its own disks attached, which
        it does not touch. A running VM is restarted into rescue mode, and restarted again into a normal boot
        when it leaves it (gracefully first, within O(shutdown_timeout)). A stopped VM switches at its next start.
      - The mode is kept in the VM's metadata (C(vm.rescue)); leaving it puts back the ISO of O(iso), if any.
    type: bool
  rescue_image:
    description: The ISO image of the store that rescue mode boots; required with O(rescue=true).
    type: str
extends_documentation_fragment:
  - vmm.cloud.ip_pools
notes:
  - Check mode and diff are supported; the diff compares the managed fields before and after.
seealso:
  - module: vmm.cloud.vm_info
  - module: vmm.cloud.image
"""

EXAMPLES = r"""
- name: A VM from the debian-12 image, running
  vmm.cloud.vm:
    name: web1
    image: debian-12
    vcpus: 2
    memory: 2048
    disk_size: 20
    networks:
      - network: default
    cloud_init:
      hostname: web1
      ssh_authorized_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample alice@example"]
    owner: alice
    state: running
  register: r

- name: A VM with an address from each pool serving the bridge br0, and one asked for on a second NIC
  vmm.cloud.vm:
    name: vps7
    image: debian-12
    networks:
      - bridge: br0
        ipv4: auto
        ipv6: auto
      - network: default
        ipv4: 192.168.122.40
    ip_pools: "{{ vmm_ip_pools }}"
    state: running

- name: Give it more memory (live when it fits under max_memory)
  vmm.cloud.vm:
    name: web1
    memory: 4096
    max_memory: 8192

- name: Reinstall it from another image with a new password (same name, addresses and size)
  vmm.cloud.vm:
    name: web1
    state: reinstalled
    image: debian-12-v2
    cloud_init:
      password: "{{ new_password }}"

- name: Give it a 50 GiB data disk (attached at once while it runs), kept across reinstalls
  vmm.cloud.vm:
    name: web1
    disks:
      - name: data
        size: 50

- name: Delete it with its disks
  vmm.cloud.vm:
    name: web1
    state: absent
"""

RETURN = r"""
vm:
  description: Facts of the VM after the run; null once it is absent.
  returned: always
  type: dict
  sample:
    name: web1
    uuid: 4b8c2e0e-8c1b-4a55-9a55-0c8f1d3e7a10
    state: running
    domain_type: qemu
    vcpus: 2
    memory: 2048
    disk_size: 20.0
    disks: [{target: vda, path: /var/lib/vmm/disks/web1.qcow2, format: qcow2, device: disk, readonly: false}]
    interfaces: [{type: network, network: default, mac: "52:54:00:12:34:56", ip: 192.168.122.50,
                  addresses: [{address: 192.168.122.50, prefix: 24, gateway: 192.168.122.1, pool: nat-v4}]}]
    vnc: {listen: 127.0.0.1, port: 5900, password_set: false}
    guest_agent: {channel: true, connected: true}
    owner: alice
    image: debian-12
    created: "2026-11-28T10:00:00Z"
    reinstalled: null
    snapshot_limit: null
    iso: null
    rescue: null
update:
  description: How changes to an existing VM were applied.
  returned: always
  type: dict
  contains:
    applied_live:
      description: Fields applied to the running guest.
      type: list
      elements: str
    pending_restart:
      description: Fields stored in the definition that take effect at the next boot.
      type: list
      elements: str
shutdown:
  description:
    - V(graceful) or V(forced) when the run stopped the VM.
    - A graceful stop goes through the guest agent when one answers (C(vm.guest_agent.connected) in the
      result), else the ACPI power button.
  returned: when the VM was stopped
  type: str
shutdown_through:
  description: How a graceful stop asked the guest, V(guest_agent) or V(acpi) (the power button).
  returned: when the VM stopped gracefully
  type: str
reinstalled:
  description: What a reinstall did.
  returned: when O(state=reinstalled)
  type: dict
  contains:
    image:
      description: The image the new system disk comes from.
      type: str
    disk:
      description: Path of the system disk that was replaced.
      type: str
    seed_rewritten:
      description: Whether a new seed was written (O(cloud_init) given).
      type: bool
domain_type_source:
  description: Why a new VM got its domain type (requested, probe or capabilities).
  returned: when a domain type was chosen
  type: str
actions:
  description: What the run did (or would do in check mode), in order.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vmm.cloud.plugins.module_utils.argument_specs import VM_SPEC
from ansible_collections.vmm.cloud.plugins.module_utils.module_runner import run_module
from ansible_collections.vmm.cloud.plugins.module_utils.vm_service import VmService


def work(context):
    service = VmService(context)
    result = service.ensure()
    result["update"] = {"applied_live": service.outcome.pop("applied_live", []),
                        "pending_restart": service.outcome.pop("pending_restart", [])}
    result.update(service.outcome)
    return result


def main():
    module = AnsibleModule(argument_spec=VM_SPEC, supports_check_mode=True)
    run_module(module, work)


if __name__ == "__main__":
    main()
