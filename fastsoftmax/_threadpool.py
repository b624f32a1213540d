"""threadpoolctl integration: ``threadpool_limits(n)`` also limits fastsoftmax.

threadpoolctl finds thread pools by scanning the shared libraries loaded in
the process; a registered controller tells it how to recognise the compiled
extension (by its exported C symbols) and how to read and set its limit.
Registration happens at import when threadpoolctl is installed and costs
nothing otherwise.
"""
import importlib.util


def register_with_threadpoolctl():
    if importlib.util.find_spec("threadpoolctl") is None:
        return False
    import threadpoolctl

    if any(getattr(c, "internal_api", None) == "fastsoftmax"
           for c in getattr(threadpoolctl, "_ALL_CONTROLLERS", ())):
        return True

    class FastsoftmaxController(threadpoolctl.LibController):
        user_api = "fastsoftmax"
        internal_api = "fastsoftmax"
        filename_prefixes = ("_core",)
        check_symbols = ("fs_get_num_threads", "fs_set_num_threads")

        def get_num_threads(self):
            get = getattr(self.dynlib, "fs_get_num_threads", None)
            return get() if get is not None else None

        def set_num_threads(self, num_threads):
            return self.dynlib.fs_set_num_threads(int(num_threads))

        def get_version(self):
            from . import __version__
            return __version__

    threadpoolctl.register(FastsoftmaxController)
    return True
