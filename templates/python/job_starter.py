"""ckbuild's local job starter (core/executors/jobStarter.ts says why it exists).

Reads one job per line on stdin, `<token> TAB <log file> TAB <job script> TAB <gpus>`, and starts
`bash <job script>` with posix_spawn: in its own session (so its own process group, as ckbuild's
own spawn made it), stdin from /dev/null, stdout and stderr appended to the log. posix_spawn
returns once the job has exec'd, so the pid reported is already the job's. Writes one line per
event: `started <token> <pid>`, `failed <token> <reason>`, and `exited <pid>` when a job ends.

The job starts in this process's working directory; the job script's first act is to `cd` into
its run directory. When stdin closes (ckbuild finished, or died) this process exits and the jobs
it started run on: they are in their own sessions and write only to their own files.
"""

import os
import selectors
import shutil
import signal
import sys


def say(line):
    os.write(1, (line + "\n").encode())


def main():
    if not hasattr(os, "posix_spawn") or not hasattr(os, "POSIX_SPAWN_OPEN"):
        say("unavailable")  # Python < 3.8, or no posix_spawn here: ckbuild starts jobs itself
        return
    bash = shutil.which("bash")
    if bash is None:
        say("unavailable")
        return
    # Python may have set LC_CTYPE in its own environment when the locale is C (PEP 538): jobs get
    # the environment ckbuild gave, which argv[1] says (`=value`, or empty when it had none).
    environment = dict(os.environ)
    environment.pop("LC_CTYPE", None)
    if sys.argv[1:2] and sys.argv[1].startswith("="):
        environment["LC_CTYPE"] = sys.argv[1][1:]
    running = set()
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup fd hears of each exit
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ, "jobs")
    selector.register(wake_read, selectors.EVENT_READ, "exits")
    say("ready")
    pending = b""
    while True:
        for key, _ in selector.select():
            if key.data == "exits":
                os.read(wake_read, 4096)
                reap(running)
                continue
            chunk = os.read(0, 65536)
            if not chunk:
                return  # ckbuild closed its end: the jobs run on
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                start(bash, environment, line.decode(), running)
        # Also after every wake-up: a wakeup byte dropped on a full pipe must not hide an exit.
        reap(running)


def start(bash, environment, line, running):
    token, log, script, gpus = line.split("\t")
    env = environment
    if gpus:
        env = dict(environment, CUDA_VISIBLE_DEVICES=gpus)
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    try:
        pid = os.posix_spawn(bash, ["bash", script], env, file_actions=actions, setsid=True)
    except OSError as error:
        say(f"failed {token} {error.strerror or error}")
        return
    running.add(pid)
    say(f"started {token} {pid}")


def reap(running):
    while running:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        running.discard(pid)
        say(f"exited {pid}")


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        pass  # ckbuild is gone: nobody to tell, and the jobs run on
