# SPDX-License-Identifier: ISC
# The checks of test-kmsgctl-parity.sh (see there).
import json, os, re, shlex, struct, subprocess, sys

build, tmp, table = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3]
kmsgctl = build + "/src/collector/kmsgctl"
put = build + "/tests/integration/put-records"
remote = "/lib/systemd/systemd-journal-remote"


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def export_field(k, v):
    v = v.encode()
    if any(c < 32 for c in v):
        return k.encode() + b"\n" + struct.pack("<Q", len(v)) + v + b"\n"
    return k.encode() + b"=" + v + b"\n"


# ---- the store: host alpha, boots A and B, kernel and journal records ----
A, B = "aa" * 16, "bb" * 16
recs = []
for i in range(30):
    src = "2" if i % 4 == 3 else "1"
    r = {"@source": src, "@boot": A if i < 15 else B, "@mono": str(1000000 + (i % 15) * 250000),
         "@real": str(1767225600000000 + i * 1500000), "@seq": str(i % 15),
         "@level": str([6, 3, 4, 6, 7, 5, 6, 2][i % 8]),
         "@facility": "0" if src == "1" else str([3, 4, 10][i % 3])}
    if src == "1":
        r["@msg"] = "kernel line %d usb 1-1: device %d" % (i, i)
        if i % 5 == 0:
            r["SUBSYSTEM"], r["DEVICE"] = "usb", "c189:%d" % i
    else:
        ident = ["sshd", "cron", "systemd"][i % 3]
        r["@msg"] = "Accepted publickey for user%d" % i
        r.update({"SYSLOG_IDENTIFIER": ident, "_PID": str(100 + i), "_COMM": ident, "_UID": "0",
                  "_SYSTEMD_UNIT": ["ssh.service", "cron.service", "init.scope"][i % 3]})
    recs.append(r)
# Lines a program wrote to /dev/kmsg (another facility than kern), read as
# journald reads them: "ident[pid]: " is SYSLOG_IDENTIFIER and SYSLOG_PID.
for i, m in enumerate(["systemd[1]: Started Journal Service.", "user facility info",
                       "  myapp: hello world", "a[1][2]: two"]):
    recs.append({"@source": "1", "@boot": B, "@mono": str(5000000 + i * 1000),
                 "@real": str(1767225700000000 + i * 1000000), "@seq": str(20 + i),
                 "@facility": str([3, 1, 16, 1][i]), "@msg": m})
store = tmp + "/store"
data = b"".join(b"".join(export_field(k, v) for k, v in r.items()) + b"\n" for r in recs)
p = subprocess.run([put, store, "alpha"], input=data, capture_output=True)
if p.returncode != 0:
    fail("put-records: " + p.stderr.decode())

got = [json.loads(l) for l in subprocess.run([kmsgctl, "-D", store, "-o", "json", "-n", "4"],
                                           capture_output=True).stdout.splitlines()]
want = [("systemd", "1", "Started Journal Service."), (None, None, "user facility info"),
        ("myapp", None, "hello world"), ("a[1]", "2", "two")]
if [(g.get("SYSLOG_IDENTIFIER"), g.get("SYSLOG_PID"), g["MESSAGE"]) for g in got] != want:
    fail("kmsg lines of other facilities: %r" % got)

jfile = tmp + "/alpha.journal"
exp = subprocess.run([kmsgctl, "-D", store, "-o", "export"], capture_output=True).stdout
p = subprocess.run([remote, "-o", jfile, "-"], input=exp, capture_output=True)
if p.returncode != 0:
    fail("systemd-journal-remote: " + p.stderr.decode())
p = subprocess.run(["journalctl", "--file", jfile, "--verify"], capture_output=True)
if p.returncode != 0:
    fail("journalctl --verify of kmsgctl's export: " + (p.stdout + p.stderr).decode())


# ---- comparisons ----
def objects(fmt, out):
    s = out.decode()
    if fmt == "json-seq":
        s = s.replace("\x1e", "")
    if fmt == "json-sse":
        s = "\n".join(l[len("data: "):] for l in s.splitlines() if l.startswith("data: "))
    dec, pos, objs = json.JSONDecoder(), 0, []
    while True:
        while pos < len(s) and s[pos] in " \n\t":
            pos += 1
        if pos >= len(s):
            return objs
        o, pos = dec.raw_decode(s, pos)
        o.pop("__CURSOR", None)
        objs.append(o)


def export_entries(out):
    entries, cur, i = [], [], 0
    while i < len(out):
        nl = out.index(b"\n", i)
        line = out[i:nl]
        if not line:
            entries.append(sorted(cur))
            cur, i = [], nl + 1
            continue
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            k, n = line, struct.unpack("<Q", out[nl + 1:nl + 9])[0]
            v, i = out[nl + 9:nl + 9 + n], nl + 9 + n + 1
        if k != b"__CURSOR":
            cur.append((k, v))
    return entries


def verbose_entries(out):
    entries = []
    for line in out.decode().splitlines():
        if line.startswith("    "):
            entries[-1][1].append(line)
        else:
            entries.append((re.sub(r" \[[^]]*\]$", " [CURSOR]", line), []))
    return [(h, sorted(f)) for h, f in entries]


def compare(args, k, j):
    fmt = args[args.index("-o") + 1] if "-o" in args else "short"
    if fmt.startswith("json"):
        return objects(fmt, k) == objects(fmt, j)
    if fmt == "export":
        return export_entries(k) == export_entries(j)
    if fmt == "verbose":
        return verbose_entries(k) == verbose_entries(j)
    if "-F" in args:
        return sorted(k.splitlines()) == sorted(j.splitlines())
    return k == j


rows = 0
for line in open(table):
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) != 4 or cells[1] != "same":
        continue
    if not cells[3]:
        continue  # -f: test-store-follow.sh
    # "-S 2026-01-01 00:00:10": the date and time are one argument.
    args = shlex.split(re.sub(r"(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)", r"'\1 \2'", cells[3].strip("`")))
    k = subprocess.run([kmsgctl, "-D", store, "--no-pager"] + args, capture_output=True)
    j = subprocess.run(["journalctl", "--file", jfile, "--no-pager"] + args, capture_output=True)
    if k.returncode != j.returncode or not compare(args, k.stdout, j.stdout):
        fail("%s: kmsgctl (exit %d) and journalctl (exit %d) differ:\n--- kmsgctl\n%s\n--- journalctl\n%s" % (
            cells[0], k.returncode, j.returncode, k.stdout.decode(errors="replace")[:3000],
            j.stdout.decode(errors="replace")[:3000]))
    rows += 1
# --cursor-file: two runs each, with the tool's own file (the cursors'
# forms differ): the last 3, then nothing new; the file holds a cursor.
for n in ("-n3", None):
    extra = [n] if n else []
    k = subprocess.run([kmsgctl, "-D", store, "--no-pager", "--cursor-file=" + tmp + "/k.cursor"] + extra,
                       capture_output=True)
    j = subprocess.run(["journalctl", "--file", jfile, "--no-pager", "--cursor-file=" + tmp + "/j.cursor"] + extra,
                       capture_output=True)
    if k.stdout != j.stdout or k.returncode != j.returncode:
        fail("--cursor-file %s: %r / %r" % (extra, k.stdout, j.stdout))
    if not open(tmp + "/k.cursor").read().startswith("h=alpha;"):
        fail("--cursor-file: no cursor written")
rows += 1

# Every option of journalctl 252 is known to kmsgctl: it works, or it is
# refused with its reason (docs/JOURNALCTL.md: n/a), never "unknown option".
help_text = subprocess.run(["journalctl", "--help", "--no-pager"], capture_output=True).stdout.decode()
opts = re.findall(r"^\s+(?:-\w )?(--[a-z-]+)(=\S+|\[=\S+\])?", help_text, re.M)
if len(opts) < 50:
    fail("journalctl --help gave %d options" % len(opts))
for name, arg in opts:
    if name in ("--follow",):
        continue  # waits for records
    args = [name + ("=x" if arg.startswith("=") else "")]
    p = subprocess.run([kmsgctl, "-D", store, "--no-pager"] + args, capture_output=True, timeout=30, cwd=tmp)
    err = p.stderr.decode()
    if "unknown option" in err:
        fail("%s: %s" % (name, err))
    if "does not apply" in err and (p.returncode != 1 or len(err.splitlines()) != 1):
        fail("%s: refused without one line and exit status 1: %d %r" % (name, p.returncode, err))
print("%d options of journalctl --help known to kmsgctl" % len(opts))
if rows < 40:
    fail("only %d rows marked same with test arguments in %s" % (rows, table))
print("ok: %d options and formats the same as journalctl's" % rows)
