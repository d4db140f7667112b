"""Stand-in for the get-pip.py that ansible-test downloads (not reachable here).

ansible-test runs it as `python get-pip.py <pip install arguments>` inside a
fresh venv, and looks for it first at ~/.ansible/test/cache/get_pip_<ver>.py;
scripts/test puts this file there. It bootstraps pip from the interpreter's
own ensurepip, then installs what ansible-test asked for from PyPI.
"""

import subprocess
import sys

DROPPED = {"--no-setuptools", "--no-wheel"}  # get-pip.py options that pip install does not know

subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
args = [arg for arg in sys.argv[1:] if arg not in DROPPED]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *args]))
