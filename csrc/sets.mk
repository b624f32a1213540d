# The vector kernel sets compiled per target architecture, besides the portable
# "scalar" set every build has.  Read by csrc/Makefile and by setup.py (one list).
SETS_x86_64 = avx2 avx512
SETS_aarch64 = neon
