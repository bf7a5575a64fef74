# SPDX-License-Identifier: ISC
# The checks of test-kmsgctl-hostile.sh (see there).
import json, os, re, shutil, struct, subprocess, sys, time

build, tmp = sys.argv[1], sys.argv[2]
kmsgctl = build + "/src/collector/kmsgctl"
put = build + "/tests/integration/put-records"
remote = "/lib/systemd/systemd-journal-remote"
checks = 0


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def ok():
    global checks
    checks += 1


def b(v):
    return v if isinstance(v, bytes) else v.encode("utf-8", "surrogateescape")


def export_field(k, v):
    v = b(v)
    if any(c < 32 or c == 127 for c in v):
        return b(k) + b"\n" + struct.pack("<Q", len(v)) + v + b"\n"
    return b(k) + b"=" + v + b"\n"


def put_records(store, host, recs):
    data = b"".join(b"".join(export_field(k, v) for k, v in r.items()) + b"\n" for r in recs)
    p = subprocess.run([put, store, host], input=data, capture_output=True)
    if p.returncode != 0:
        fail("put-records: " + p.stderr.decode())


def kc(store, *args, tty=False, check=True):
    cmd = [kmsgctl, "-D", store, "--no-pager"] + list(args)
    if not tty:
        p = subprocess.run(cmd, capture_output=True)
        if check and p.returncode != 0:
            fail("kmsgctl %s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr.decode()))
        return p.stdout
    # On a terminal: standard output is a pty without the line
    # discipline's newline translation. The parent keeps the slave open so
    # that nothing is lost when kmsgctl exits, and drains the master.
    import select, termios
    master, slave = os.openpty()
    attr = termios.tcgetattr(slave)
    attr[1] &= ~termios.OPOST
    termios.tcsetattr(slave, termios.TCSANOW, attr)
    proc = subprocess.Popen(cmd, stdout=slave, stderr=subprocess.PIPE)
    out = b""
    while True:
        done = proc.poll() is not None
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            out += os.read(master, 65536)
        elif done:
            break
    os.close(master)
    os.close(slave)
    if check and proc.returncode != 0:
        fail("kmsgctl %s on a terminal: exit %d" % (" ".join(args), proc.returncode))
    return out


# Bytes a terminal may see: printable UTF-8, tab and newline; no other C0,
# no DEL, no C1 (U+0080..U+009F), no invalid UTF-8.
def terminal_safe(out):
    try:
        s = out.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any((ord(c) < 32 and c not in "\t\n") or 0x7F <= ord(c) <= 0x9F for c in s)


# ---- a hostile agent's records ----
FORGED = "Jan  1 00:00:00 victim sshd[4242]: Accepted password for root from 10.0.0.1"
hostile = [
    {"@msg": "one", "SYSLOG_IDENTIFIER": "x\n" + FORGED.split("[")[0], "SYSLOG_PID": "4242"},
    {"@msg": "two", "SYSLOG_IDENTIFIER": "t\x1b]0;pwned\x07\x1b[2J", "SYSLOG_PID": "1\r2\x1b[1m"},
    {"@msg": "three", "SYSLOG_IDENTIFIER": "evil\r", "_COMM": "comm", "_PID": "7\n8", "SYSLOG_PID": "9"},
    {"@msg": "four", "SYSLOG_IDENTIFIER": "i" * 300, "_COMM": "c\x1b", "SYSLOG_PID": "\x9b2J"},
    {"@msg": "five\n" + FORGED + "\x1b]0;title\x07\x1b[2J\r", "SYSLOG_IDENTIFIER": "ok"},
    {"@msg": "six \x1b]0;t\x07 csi \x1b[31mred\x1b[0m cr\r", "SYSLOG_IDENTIFIER": "ok"},
    {"@msg": b"seven \xc2\x9b2J \xff\xfe \x7f\x00 end", "SYSLOG_IDENTIFIER": b"\xc2\x9bid"},
    {"@msg": "eight\tcolumns \x1b[1;31mbold\x1b[m", "SYSLOG_IDENTIFIER": "tab\tid"},
    {"@msg": "nine\x1b]8;;http://x/\x07link\x1b]8;;\x07", "SYSLOG_IDENTIFIER": "ok", "_PID": "12"},
]
store = tmp + "/store"
put_records(store, "evil", hostile)

FORMATS = ["short", "short-iso", "short-precise", "short-monotonic", "cat", "json", "json-pretty", "export"]
for fmt in FORMATS:
    out = kc(store, "-o", fmt, tty=True)
    if not terminal_safe(out):
        bad = sorted({c for c in out.decode("utf-8", "replace") if ord(c) < 32 and c not in "\t\n"})
        fail("-o %s on a terminal: control bytes %r:\n%r" % (fmt, bad, out[:2000]))
    ok()
    if fmt.startswith("short"):
        lines = out.decode().splitlines()
        # One line per record (the message of five is a blob: ESC [ 2 J).
        if len(lines) != len(hostile):
            fail("-o %s: %d lines, expected %d:\n%s" % (fmt, len(lines), len(hostile), out.decode()))
        if any(re.search(r"victim sshd\[4242\]: Accepted", l) and not l.startswith(" ") and "evil ok:" not in l
               for l in lines):
            fail("-o %s: a forged line:\n%s" % (fmt, out.decode()))
        ok()
# Not a terminal: the short formats and json are the same; cat gives the
# message as it is (journalctl's cat); export is the binary format.
for fmt in ["short", "short-precise", "json"]:
    out = kc(store, "-o", fmt)
    if not terminal_safe(out):
        fail("-o %s to a pipe: control bytes" % fmt)
    ok()
cat = kc(store, "-o", "cat")
if cat != b"".join(b(r["@msg"]) + b"\n" for r in hostile):
    fail("-o cat to a pipe is not the messages as they are: %r" % cat)
ok()

short = kc(store, "-o", "short").decode().splitlines()
expect = [
    "Jan 01 00:00:00 evil unknown[4242]: one",  # identifier with a newline
    "Jan 01 00:00:01 evil unknown: two",
    "Jan 01 00:00:02 evil comm[9]: three",  # _PID with a newline: SYSLOG_PID
    "Jan 01 00:00:03 evil unknown: four",  # 300 bytes: too long, as journalctl
    "Jan 01 00:00:04 evil ok: [84B blob data]",
    "Jan 01 00:00:05 evil ok: six  csi red cr",
    "Jan 01 00:00:06 evil unknown: [20B blob data]",
    "Jan 01 00:00:07 evil tab\tid: eight        columns bold",
    "Jan 01 00:00:08 evil ok[12]: ninelink",
]
if short != expect:
    fail("-o short:\n%s\nexpected:\n%s" % ("\n".join(short), "\n".join(expect)))
ok()
catt = kc(store, "-o", "cat", tty=True).decode().splitlines()
expect_cat = [
    "one", "two", "three", "four", "five", FORGED + "\\x1b[2J",
    "six  csi red cr", "seven \\xc2\\x9b2J \\xff\\xfe \\x7f\\x00 end", "eight\tcolumns bold", "ninelink",
]
if catt != expect_cat:
    fail("-o cat on a terminal:\n%r\nexpected:\n%r" % (catt, expect_cat))
ok()
# -a shows what short hides, escaped; --no-full cuts lines at the width.
alla = kc(store, "-a", "-o", "short", tty=True)
if not terminal_safe(alla) or "five" not in alla.decode() or "\\x1b]0;title\\x07" not in alla.decode():
    fail("-a on a terminal: %r" % alla)
ok()
os.environ["COLUMNS"] = "40"
cut = kc(store, "--no-full", "-o", "short", tty=True).decode().splitlines()
del os.environ["COLUMNS"]
# (a blob's size is not cut, as journalctl does not cut it)
if any(len(l) > 40 and not l.endswith("blob data]") for l in cut) or not any(l.endswith("\u2026") for l in cut):
    fail("--no-full at 40 columns: %r" % cut)
ok()
exp_tty = kc(store, "-o", "export", tty=True).decode()
if "SYSLOG_IDENTIFIER=t\\x1b]0;pwned\\x07\\x1b[2J\n" not in exp_tty:
    fail("-o export on a terminal: binary value not escaped:\n" + exp_tty)
ok()

# ---- journalctl 252 on the same records ----
if os.access(remote, os.X_OK) and shutil.which("journalctl"):
    jfile = tmp + "/j.journal"
    jrecs = []
    for i, r in enumerate(hostile):
        e = {"__REALTIME_TIMESTAMP": str(1767225600000000 + i * 1000000),
             "__MONOTONIC_TIMESTAMP": str(1000000 + i * 1000),
             "_BOOT_ID": "0" * 32, "_HOSTNAME": "evil", "PRIORITY": "6", "SYSLOG_FACILITY": "1"}
        for k, v in r.items():
            e["MESSAGE" if k == "@msg" else k] = v
        jrecs.append(e)
    data = b"".join(b"".join(export_field(k, v) for k, v in r.items()) + b"\n" for r in jrecs)
    p = subprocess.run([remote, "-o", jfile, "-"], input=data, capture_output=True)
    if p.returncode != 0:
        fail("systemd-journal-remote: " + p.stderr.decode())
    for fmt in ["short", "short-precise", "short-iso", "short-monotonic", "cat"]:
        j = subprocess.run(["journalctl", "--file", jfile, "--no-pager", "-o", fmt],
                           capture_output=True).stdout
        k = kc(store, "-o", fmt)
        # journalctl 252 prints an identifier or pid with a newline as it
        # is (the forged line); kmsgctl takes it as not printable
        # (kmsgctl(1)): "unknown", and SYSLOG_PID after _PID.
        if fmt != "cat":
            j = re.sub(rb" x\nJan  1 00:00:00 victim sshd\[4242\]", b" unknown[4242]", j)
            j = j.replace(b"comm[7\n8]", b"comm[9]")
        jl, kl = j, k
        if jl != kl:
            fail("-o %s differs from journalctl:\n%r\n%r" % (fmt, j, k))
        ok()
    j = subprocess.run(["journalctl", "--file", jfile, "--no-pager", "-o", "json"], capture_output=True).stdout
    k = kc(store, "-o", "json")
    for jline, kline in zip(j.splitlines(), k.splitlines()):
        jo, ko = json.loads(jline), json.loads(kline)
        for name in ["MESSAGE", "SYSLOG_IDENTIFIER", "SYSLOG_PID", "_PID", "_COMM"]:
            if jo.get(name) != ko.get(name):
                fail("-o json %s differs from journalctl: %r %r" % (name, jo.get(name), ko.get(name)))
    ok()
else:
    print("note: journalctl or systemd-journal-remote missing: comparison skipped")

# ---- trusted fields (issue 17 item 3) ----
# Host "victim" has its own records; host "evil" sends records whose
# agent fields carry victim's values under every name kmsgctl gives its
# own value. A match on such a name must return only the records whose
# own (trusted) value it is, in every format.
tstore = tmp + "/trusted"
put_records(tstore, "victim", [
    {"@msg": "victim record", "@source": "1", "@level": "2", "@facility": "4", "@boot": "ab" * 16, "@seq": "77"},
])
vict = json.loads(kc(tstore, "-o", "json"))
trusted = {n: vict[n] for n in ["_HOSTNAME", "PRIORITY", "SYSLOG_FACILITY", "_BOOT_ID", "MESSAGE",
                               "KMSG_STREAM_ID", "KMSG_STREAM_SEQ", "KMSG_SEQ", "KMSG_SOURCE",
                               "KMSG_RECEIVED_TIMESTAMP", "__REALTIME_TIMESTAMP",
                               "__MONOTONIC_TIMESTAMP"]}
# (_TRANSPORT and SYSLOG_IDENTIFIER are not in the list: a journal
# record brings its own, from the agent's journald, view.h.)
trusted["KMSG_EVENT"] = "session-start"
trusted["KMSG_RECORD_FLAGS"] = "cont"
trusted["KMSG_STORED_EARLY"] = "1"
# Fillers first, so that evil's own stream seqs differ from victim's.
evil = [{"@msg": "filler", "@real": "1767225000000000", "@mono": "1"} for _ in range(5)]
for src in ["1", "2", "4"]:  # kmsg, journal, agent records
    r = {"@msg": "evil record " + src, "@source": src, "@level": "6", "@facility": "1", "@boot": "cd" * 16,
         "@real": "1767226000000000", "@mono": "5000000"}
    r.update(trusted)
    evil.append(r)
put_records(tstore, "evil", evil)
everything = [json.loads(l) for l in kc(tstore, "-o", "json").splitlines()]
for n, v in trusted.items():
    want = 1 if n in vict else 0
    # The records whose own value it is (evil's kmsg record is a kmsg
    # record too, for instance).
    expect = [g["MESSAGE"] for g in everything if g.get(n) == v]
    if ("victim record" in expect) != bool(want):
        fail("%s=%s: expected %r" % (n, v, expect))
    for fmt in ["json", "cat", "short", "export"]:
        out = kc(tstore, "-o", fmt, "%s=%s" % (n, v), check=False)
        if fmt == "json":
            got = [json.loads(l) for l in out.splitlines()]
            if [g["MESSAGE"] for g in got] != expect or any(g.get(n) != v for g in got):
                fail("%s=%s: %r, expected %r" % (n, v, got, expect))
        elif fmt == "cat":
            if out.decode().splitlines() != expect:
                fail("%s=%s -o cat: %r, expected %r" % (n, v, out, expect))
        elif fmt == "short":
            lines = [l for l in out.decode().splitlines() if not l.startswith("-- ")]
            if len(lines) != len(expect) or any(not l.endswith(": " + m) for l, m in zip(lines, expect)):
                fail("%s=%s -o short: %r, expected %r" % (n, v, out, expect))
        else:
            # (sorted: export holds records without a boot back, output.c)
            got = sorted(l for l in out.decode().splitlines() if l.startswith("MESSAGE="))
            if got != sorted("MESSAGE=" + m for m in expect):
                fail("%s=%s -o export: %r, expected %r" % (n, v, got, expect))
        ok()
    # The agent's field is still there, under another name: KMSG_RECORD_
    # and the name (journal records, names without "_"), or KMSG_FIELD and
    # the name (other records' "_" names).
    alts = ["KMSG_RECORD_" + n.lstrip("_")] + (["KMSG_FIELD" + n] if n.startswith("_") else [])
    args = []
    for alt in alts:
        args += (["+"] if args else []) + ["%s=%s" % (alt, v)]
    out = kc(tstore, "-o", "json", *args, check=False)
    # (A field with the trusted value itself is left out, view.h.)
    nalt = sum(1 for g in everything if g["MESSAGE"].startswith("evil record") and g.get(n) != v)
    if n != "MESSAGE" and len(out.splitlines()) != nalt:
        fail("%s: %d records, expected the agent's %d" % (" ".join(args), len(out.splitlines()), nalt))
    ok()

# ---- 9,000 fields in one record: json and export are not quadratic ----
def name(i):
    digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    s = ""
    for _ in range(3):
        s += digits[i % 26]
        i //= 26
    return "X" + s[1:] + s[0]


big = tmp + "/big"
recs = []
for n in range(10):
    # Half the names given twice (a json array each), half once.
    r = {"@msg": "big %d" % n}
    fields = []
    for i in range(9000):
        fields.append((name(i % 4500 if i % 2 else i), ""))
    recs.append((r, fields))
data = b""
for r, fields in recs:
    data += b"".join(export_field(k, v) for k, v in r.items())
    data += b"".join(export_field(k, v) for k, v in fields) + b"\n"
p = subprocess.run([put, big, "big"], input=data, capture_output=True)
if p.returncode != 0:
    fail("put-records big: " + p.stderr.decode())
t0 = time.monotonic()
js = kc(big, "-o", "json")
ex = kc(big, "-o", "export")
dt = time.monotonic() - t0
objs = [json.loads(l) for l in js.splitlines()]
first = objs[0]
nf = sum(1 for l in ex.split(b"\n\n")[0].split(b"\n") if l.startswith(b"X"))
if len(objs) != 10 or nf != 9000:
    fail("big records: %d objects, %d fields in the first export entry" % (len(objs), nf))
# name(1) is given at i = 1 and 4501; name(2) once, at i = 2.
dup = name(1)
if first.get(dup) != ["", ""] or first.get(name(2)) != "":
    fail("big record: %s is %r, expected two empty strings" % (dup, first.get(dup)))
print("10 records of 9,000 fields: -o json and -o export in %.2f s" % dt)
if dt > 1.5:
    fail("10 records of 9,000 fields took %.2f s (quadratic?)" % dt)
ok()

print("ok: %d checks" % checks)
