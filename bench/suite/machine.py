"""Machine facts for results.json: CPU model, CPUs, NUMA nodes, kernel,
io_uring features (probed with the io_uring_setup and io_uring_register
system calls through ctypes, so no extra program is needed), the I/O
backend the runtime will pick, the CPU frequency governor, load average."""
import ctypes, os, platform, socket, subprocess, time

SYS_IO_URING_SETUP, SYS_IO_URING_REGISTER = 425, 427
IORING_REGISTER_PROBE = 8
IO_URING_OP_SUPPORTED = 1
# Bit i of io_uring_params.features (include/uapi/linux/io_uring.h).
FEATURES = ["single_mmap", "nodrop", "submit_stable", "rw_cur_pos", "cur_personality",
            "fast_poll", "poll_32bits", "sqpoll_nonfixed", "ext_arg", "native_workers",
            "rsrc_tags", "cqe_skip", "linked_file", "reg_reg_ring", "recvsend_bundle",
            "min_timeout", "rw_attr", "no_iowait"]
# Opcodes the runtime uses, by number.
OPCODES = {13: "accept", 22: "read", 23: "write", 26: "send", 27: "recv", 11: "timeout",
           6: "poll_add", 40: "msg_ring", 47: "send_zc", 31: "provide_buffers"}


class _Params(ctypes.Structure):
    _fields_ = [("sq_entries", ctypes.c_uint32), ("cq_entries", ctypes.c_uint32),
                ("flags", ctypes.c_uint32), ("sq_thread_cpu", ctypes.c_uint32),
                ("sq_thread_idle", ctypes.c_uint32), ("features", ctypes.c_uint32),
                ("wq_fd", ctypes.c_uint32), ("resv", ctypes.c_uint32 * 3),
                ("offsets", ctypes.c_uint8 * 80)]


class _ProbeOp(ctypes.Structure):
    _fields_ = [("op", ctypes.c_uint8), ("resv", ctypes.c_uint8), ("flags", ctypes.c_uint16),
                ("resv2", ctypes.c_uint32)]


class _Probe(ctypes.Structure):
    _fields_ = [("last_op", ctypes.c_uint8), ("ops_len", ctypes.c_uint8),
                ("resv", ctypes.c_uint16), ("resv2", ctypes.c_uint32 * 3),
                ("ops", _ProbeOp * 256)]


def io_uring():
    """{"available", "error", "features": [...], "opcodes": {name: bool}}."""
    libc = ctypes.CDLL(None, use_errno=True)
    p = _Params()
    fd = libc.syscall(SYS_IO_URING_SETUP, 8, ctypes.byref(p))
    if fd < 0:
        return {"available": False, "error": os.strerror(ctypes.get_errno()), "features": [],
                "opcodes": {}}
    try:
        feats = [n for i, n in enumerate(FEATURES) if p.features & (1 << i)]
        probe = _Probe()
        ops = {}
        if libc.syscall(SYS_IO_URING_REGISTER, fd, IORING_REGISTER_PROBE, ctypes.byref(probe),
                        256) == 0:
            for num, name in OPCODES.items():
                ops[name] = num <= probe.last_op and bool(
                    probe.ops[num].flags & IO_URING_OP_SUPPORTED)
        return {"available": True, "error": None, "features": feats, "features_mask": p.features,
                "opcodes": ops}
    finally:
        os.close(fd)


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def cpu_model():
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def numa_nodes():
    try:
        return len([d for d in os.listdir("/sys/devices/system/node")
                    if d.startswith("node") and d[4:].isdigit()])
    except OSError:
        return 1


def governor():
    """The scaling governor of CPU 0, or None (containers often hide it)."""
    return _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")


def backend(uring, caps):
    """The backend agentd picks with --backend auto: its own report's
    "backend" line where it has one; else io_uring when a ring can be set
    up, epoll otherwise (AC_BACKEND overrides it, as in the runtime)."""
    for line in (caps or "").splitlines():
        if line.startswith("backend"):
            return line.split()[1]
    forced = os.environ.get("AC_BACKEND")
    if forced:
        return forced
    return "io_uring" if uring["available"] else "epoll"


def agentd_capabilities():
    """What `agentd --capabilities` reports (the runtime's own probe, where
    the build has it), as text; None without it."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "bin",
                        "agentd")
    try:
        r = subprocess.run([path, "--capabilities"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def facts():
    uring, caps = io_uring(), agentd_capabilities()
    return {
        "cpu_model": cpu_model(),
        "cpus_online": os.cpu_count(),
        "cpus_usable": sorted(os.sched_getaffinity(0)),
        "numa_nodes": numa_nodes(),
        "kernel": platform.release(),
        "hostname": socket.gethostname(),
        "io_uring": uring,
        "io_uring_disabled_sysctl": _read("/proc/sys/kernel/io_uring_disabled"),
        "backend": backend(uring, caps),
        "agentd_capabilities": caps,
        "governor": governor(),
        "loadavg_start": list(os.getloadavg()),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


if __name__ == "__main__":
    import json
    print(json.dumps(facts(), indent=1))
