"""What runs inside a forked Python task process. Imported by the Python zygote only, so
everything imported here (kfp's executor and the libraries components commonly import) is paid
once; commands are exec'd by the kfp-free path in shim.py."""

from __future__ import annotations

import json
import os
import sys
import traceback

import kfp.dsl  # noqa: F401  (preloaded: this import is why a step costs ms, not a second)
from kfp.dsl import executor as kfp_executor
from kfp.dsl import executor_main
from kfp.dsl import utils as kfp_utils

from flowyard.executors import mounts
from flowyard.executors.base import Work


def _reopen_output() -> None:
    # fds 1 and 2 are the supervisor's pipe; line-buffered so the log streams while it runs.
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115


def run_work(work: Work, done_fd: int = -1) -> None:
    """Runs in the process the supervisor forked (its own process group, output on the
    supervisor's pipe) for a work with `python` set; never returns. `done_fd`: where the
    exit code is declared before the process exits (see shim.py)."""
    _reopen_output()
    try:
        mounts.apply(work.mounts)
    except OSError as exc:
        print(f"flowyard: {exc}", file=sys.stderr)
        os._exit(126)
    os.environ.clear()
    os.environ.update(work.env)
    if work.cwd:
        os.chdir(work.cwd)
    call = work.python
    assert call is not None
    sys.path[:0] = work.python_path
    code = 0
    try:
        sys.argv = ["kfp.dsl.executor_main", "--executor_input", call.executor_input,
                    "--function_to_execute", call.function]
        if call.source:
            os.makedirs(call.module_dir, exist_ok=True)
            module_path = os.path.join(call.module_dir, "ephemeral_component.py")
            with open(module_path, "w") as f:
                f.write(call.source)
            sys.argv += ["--component_module_path", module_path]
            if work.python_path:
                # packages_to_install layered a venv on this environment; it may hold other
                # versions of modules the zygote preloaded (numpy), which a fork would keep.
                # A fresh interpreter imports them from the venv (PYTHONPATH points there).
                os.execve(sys.executable, [sys.executable, "-m", "kfp.dsl.executor_main",
                                           *sys.argv[1:]], work.env)
            # What executor_main does, minus building an argparse parser in every task
            # (argparse's regexes and gettext lookups are not warm in the zygote: ~2 ms).
            executor_main._setup_logging()
            module = kfp_utils.load_module(module_name="ephemeral_component",
                                           module_directory=call.module_dir)
            kfp_executor.Executor(executor_input=json.loads(call.executor_input),
                                  function_to_execute=getattr(module, call.function)).execute()
        else:
            # Containerized component: kfp_config.ini in the working folder names the module.
            sys.path.insert(0, os.getcwd())
            executor_main.executor_main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except MemoryError:
        traceback.print_exc()
        code = 137  # as the OOM killer's SIGKILL reads: the supervisor reports OOMKilled
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    if done_fd >= 0:
        # The output ends here (EOF on the supervisor's pipe) and the code is declared: the
        # supervisor records the end now, not after this copy of the zygote has been torn
        # down (milliseconds of unmapping that are on every step's path otherwise).
        os.close(1)
        os.close(2)
        os.write(done_fd, bytes([code & 0xFF]))
    os._exit(code)
