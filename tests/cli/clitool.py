"""Run the `plexus` command as a subprocess with its own config dir and home."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Result:
    def __init__(self, p):
        self.rc = p.returncode
        self.out = p.stdout
        self.err = p.stderr

    @property
    def text(self):
        return self.out + self.err

    def __repr__(self):
        return "rc=%d\n--- stdout\n%s--- stderr\n%s" % (self.rc, self.out, self.err)


def cli_env(home, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLEXUS_")}
    env.update(HOME=str(home), PLEXUS_CONFIG_DIR=str(home / ".plexus"), COLUMNS="200",
               PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "cpython"), os.path.join(ROOT, "core")]))
    env.update({k: str(v) for k, v in extra.items()})
    return env


def plexus(home, *args, input=None, timeout=90, **env):
    p = subprocess.run([sys.executable, "-m", "plexus.cli"] + [str(a) for a in args], input=input,
                       capture_output=True, text=True, timeout=timeout, env=cli_env(home, **env),
                       cwd=str(home))
    return Result(p)
