"""qemu-img argv by tables, and the wrapper against a recording runner and real qemu-img."""

import json
import shutil

import pytest

from ansible_collections.vmm.cloud.plugins.module_utils import qemu_img
from ansible_collections.vmm.cloud.plugins.module_utils.errors import VmmError


@pytest.mark.parametrize(
    ("build", "args", "argv"),
    [
        (qemu_img.info_argv, ("/i/a.qcow2",), ["qemu-img", "info", "--output", "json", "-U", "/i/a.qcow2"]),
        (qemu_img.info_argv, ("/i/a.qcow2", True),
         ["qemu-img", "info", "--output", "json", "-U", "--backing-chain", "/i/a.qcow2"]),
        (qemu_img.overlay_argv, ("/d/vm.qcow2", "/i/base.qcow2", "qcow2", 10737418240),
         ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", "/i/base.qcow2", "/d/vm.qcow2",
          "10737418240"]),
        (qemu_img.overlay_argv, ("/d/vm.qcow2", "/i/base.raw", "raw"),
         ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", "/i/base.raw", "/d/vm.qcow2"]),
        (qemu_img.convert_argv, ("/i/base.raw", "raw", "/d/vm.qcow2"),
         ["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", "/i/base.raw", "/d/vm.qcow2"]),
        (qemu_img.resize_argv, ("/d/vm.qcow2", 2147483648),
         ["qemu-img", "resize", "-q", "-f", "qcow2", "/d/vm.qcow2", "2147483648"]),
        # a hostile file name stays one argument: nothing is ever parsed by a shell
        (qemu_img.info_argv, ("/d/x; rm -rf /",), ["qemu-img", "info", "--output", "json", "-U", "/d/x; rm -rf /"]),
    ],
)
def test_argv(build, args, argv):
    assert build(*args) == argv


class Recorder:
    def __init__(self, replies):
        self.replies = list(replies)
        self.calls = []

    def __call__(self, argv):
        self.calls.append(argv)
        return self.replies.pop(0)


def test_info_parses_json_and_errors_carry_stderr():
    run = Recorder([(0, json.dumps({"format": "qcow2", "virtual-size": 5}), ""), (1, "", "Could not open 'x'")])
    img = qemu_img.QemuImg(run)
    assert img.info("/a")["virtual-size"] == 5
    with pytest.raises(VmmError, match="Could not open 'x'"):
        img.info("/x")
    assert run.calls[0][-1] == "/a"


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img not installed")
def test_real_overlay_chain(tmp_path):
    import subprocess

    def run(argv):
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    img = qemu_img.QemuImg(run)
    base = tmp_path / "base.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "64M"], check=True)
    top = tmp_path / "top.qcow2"
    img.create_overlay(str(top), str(base), "qcow2", 128 * 1024 * 1024)
    info = img.info(str(top))
    assert info["virtual-size"] == 128 * 1024 * 1024
    assert info["backing-filename"] == str(base)
    chain = img.backing_chain(str(top))
    assert [c["filename"] for c in chain] == [str(top), str(base)]
    img.resize(str(top), 256 * 1024 * 1024)
    assert img.info(str(top))["virtual-size"] == 256 * 1024 * 1024
