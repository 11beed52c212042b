#!/usr/bin/env python3
"""sass_rules.py: static rules on the compiled sm_90 code of the hot kernels (a ctest entry).

Reads the SASS and the resource usage of every kernel in BINARY with cuobjdump (and nvdisasm,
which cuobjdump calls). CUDA 13.0 ships neither on our build machines; scripts/install-deps.sh
installs them from PyPI (nvidia-cuda-cuobjdump, nvidia-cuda-nvdisasm), whose 13.x tools read
CUDA 13.0 objects. Rules:
  every qengine kernel    no local memory (LDL/STL, a STACK or LOCAL size: spills or arrays
                          indexed at run time), no fp64 instruction, at most 128 registers
  gemv_a16*, gemv_a8*     weights read with 16-byte streaming loads (LDG.E.NA.128)
  gemv_a16*               fp16x2 arithmetic (HFMA2)
  gemv_a8*                dp4a (IDP.4A)
Exit 0 when every rule holds, 1 otherwise (each violation named), 2 on usage or tool errors.
  sass_rules.py BINARY [--arch sm_90]
  sass_rules.py --check-tools      exit 0 when both tools are found
"""
import os
import re
import shutil
import subprocess
import sys


def find_tool(name):
    """The tool on PATH, else in the pip package's folder (nvidia/cu13/bin)."""
    found = shutil.which(name)
    if found:
        return found
    try:
        import nvidia  # namespace package of NVIDIA's PyPI wheels
        for base in nvidia.__path__:
            for sub in ("cu13", "cuda_cuobjdump", "cuda_nvdisasm"):
                cand = os.path.join(base, sub, "bin", name)
                if os.path.isfile(cand):
                    return cand
    except ImportError:
        pass
    return None


def run(cmd, env):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"sass_rules: {' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()[:400]}")
    return p.stdout


def main():
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 2
    if args[0] == "--check-tools":
        return 0 if find_tool("cuobjdump") and find_tool("nvdisasm") else 1
    binary, arch = args[0], "sm_90"
    if "--arch" in args:
        arch = args[args.index("--arch") + 1]
    cuobjdump, nvdisasm = find_tool("cuobjdump"), find_tool("nvdisasm")
    if not cuobjdump or not nvdisasm:
        print("sass_rules: cuobjdump and nvdisasm are needed: pip install nvidia-cuda-cuobjdump "
              "nvidia-cuda-nvdisasm (scripts/install-deps.sh does)", file=sys.stderr)
        return 2
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(nvdisasm) + os.pathsep + env.get("PATH", "")

    sass = run([cuobjdump, "--dump-sass", "--gpu-architecture", arch, binary], env)
    usage = run([cuobjdump, "--dump-resource-usage", "--gpu-architecture", arch, binary], env)

    # Per kernel: its SASS lines, and its resource line.
    code = {}
    current = None
    for line in sass.splitlines():
        m = re.match(r"\s*Function : (\S+)", line)
        if m:
            current = m.group(1)
            code[current] = []
        elif current is not None:
            code[current].append(line)
    resources = {}
    current = None
    for line in usage.splitlines():
        m = re.match(r"\s*Function (\S+):", line)
        if m:
            current = m.group(1)
        elif current and "REG:" in line:
            resources[current] = {k: int(v) for k, v in re.findall(r"(\w+(?:\[\d+\])?):(\d+)", line)}

    hot = [f for f in code if re.search(r"gemv_a16|gemv_a8|quantize_act8|attn_decode|rmsnorm_f16|swiglu|add_inplace|argmax", f)]
    if not hot:
        print(f"sass_rules: no qengine kernels for {arch} in {binary}", file=sys.stderr)
        return 1
    failures = []

    def check(cond, kernel, what):
        if not cond:
            failures.append(f"{kernel}: {what}")

    for f in sorted(hot):
        text = "\n".join(code[f])
        res = resources.get(f, {})
        check(res, f, "no resource usage found")
        check(not re.search(r"\b(LDL|STL)\b", text), f, "local memory loads/stores (LDL/STL)")
        check(res.get("STACK", 0) == 0 and res.get("LOCAL", 0) == 0, f,
              f"stack {res.get('STACK')} / local {res.get('LOCAL')} bytes")
        check(not re.search(r"\b(DADD|DMUL|DFMA|DSETP|F2F\.F64|F2F\.F32\.F64)\b", text), f, "fp64 instructions")
        check(res.get("REG", 999) <= 128, f, f"{res.get('REG')} registers (cap 128)")
        if "gemv_a16" in f or "gemv_a8" in f:
            check(re.search(r"LDG\.E\.NA\.128", text), f, "no 16-byte streaming weight load (LDG.E.NA.128)")
        if "gemv_a16" in f:
            check(re.search(r"\bHFMA2\b", text), f, "no fp16x2 fma (HFMA2)")
        if "gemv_a8" in f:
            check(re.search(r"\bIDP\.4A", text), f, "no dp4a (IDP.4A)")

    regs = [resources.get(f, {}).get("REG", 0) for f in hot]
    print(f"sass_rules: {len(hot)} kernels for {arch} in {os.path.basename(binary)}, "
          f"registers {min(regs)}-{max(regs)}, {len(failures)} violation(s)")
    for v in failures:
        print(f"  FAIL {v}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
