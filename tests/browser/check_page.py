#!/usr/bin/python3
"""check_page.py — open a linkbench results page in headless Chromium and check it as a reader would see it.

usage: check_page.py PAGE.html [--shots DIR] [--browser PATH] [--widths 1280,390]

Drives Debian's chromium over --remote-debugging-pipe (the DevTools protocol on file
descriptors 3 and 4: nothing but the Python standard library). At each width it checks:
  - the page loads with no console error, no uncaught exception, no failed resource;
  - every <img> decodes (naturalWidth > 0);
  - every link resolves: #anchors to an element, file links to an existing file;
  - no character is drawn as a missing-glyph box (each distinct non-ASCII character of
    the text is drawn on a canvas in the page's font and compared with the drawing of a
    private-use character no font has; the check is tested on one such character first);
  - nothing makes the page itself scroll sideways (wide tables scroll in their box).
It saves screenshots per width in --shots: page-<width>.png (the whole page) and
page-<width>-top.png (its first 1400 px). Exit status 0
when every check passes, 1 with one line per problem, 2 on a usage or browser error.
"""
import argparse
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--mute-audio", "--remote-debugging-pipe"]


class Browser:
    """One Chromium process and the DevTools protocol over its pipe."""

    def __init__(self, exe):
        self.profile = tempfile.mkdtemp(prefix="lb-chromium-")
        cmd_r, self.cmd_w = os.pipe()      # we write commands, chromium reads fd 3
        self.ev_r, ev_w = os.pipe()        # chromium writes fd 4, we read
        # the child's ends above 4 first, so that dup2 onto 3 and 4 never meets itself
        # (a dup2 of an fd onto itself would keep its close-on-exec flag)
        hi_r = fcntl.fcntl(cmd_r, fcntl.F_DUPFD_CLOEXEC, 10)
        hi_w = fcntl.fcntl(ev_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(cmd_r)
        os.close(ev_w)

        def child_fds():
            os.dup2(hi_r, 3)   # inheritable copies; everything else stays close-on-exec
            os.dup2(hi_w, 4)

        self.proc = subprocess.Popen([exe, *FLAGS, "--user-data-dir=" + self.profile, "about:blank"],
                                     close_fds=False, preexec_fn=child_fds, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cmd_r, ev_w = hi_r, hi_w
        os.close(cmd_r)
        os.close(ev_w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def close(self):
        try:
            self.call("Browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.cmd_w)
        os.close(self.ev_r)
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not answer in time")
            r, _, _ = select.select([self.ev_r], [], [], max(0.0, deadline - time.monotonic()))
            if not r:
                continue
            chunk = os.read(self.ev_r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed its DevTools pipe (it exited: %s)" % self.proc.poll())
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=True, timeout=60):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"].get("message")))
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method, timeout=60):
        deadline = time.monotonic() + timeout
        for i, e in enumerate(self.events):
            if e.get("method") == method:
                return self.events.pop(i)
        while True:
            m = self._read_message(deadline)
            if m.get("method") == method:
                return m
            self.events.append(m)

    def drain(self, seconds):
        """Collect events for a while (late console messages, image errors)."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.events.append(self._read_message(deadline))
        except TimeoutError:
            pass


# Runs in the page: images, links, glyphs, overflow. Returns a JSON-able object.
PAGE_JS = r"""
(async () => {
  const out = {images: [], links: [], glyphs: [], selftest: null, overflow: 0, width: innerWidth};
  for (const img of document.images) {
    let ok = true;
    try { await img.decode(); } catch (e) { ok = false; }
    out.images.push({src: img.getAttribute('src').slice(0, 200), ok: ok && img.naturalWidth > 0});
  }
  for (const a of document.querySelectorAll('a[href]')) {
    const h = a.getAttribute('href');
    const rec = {href: h, url: a.href, ok: true};
    if (h.startsWith('#')) rec.ok = !!document.getElementById(decodeURIComponent(h.slice(1)));
    out.links.push(rec);
  }
  // Missing glyphs: a character drawn exactly like U+E000 (private use, in no font
  // here) is a box. Drawn at 40 px in the page's own font stack.
  const cv = document.createElement('canvas');
  cv.width = 64; cv.height = 64;
  const ctx = cv.getContext('2d', {willReadFrequently: true});
  const font = getComputedStyle(document.body).fontFamily;
  const draw = (ch) => {
    ctx.clearRect(0, 0, 64, 64);
    ctx.font = '40px ' + font;
    ctx.fillStyle = '#000';
    ctx.textBaseline = 'middle';
    ctx.fillText(ch, 8, 32);
    return Array.from(ctx.getImageData(0, 0, 64, 64).data).join(',');
  };
  const tofu = draw('\uE000');
  const blank = (() => { ctx.clearRect(0, 0, 64, 64); return Array.from(ctx.getImageData(0, 0, 64, 64).data).join(','); })();
  out.selftest = {tofu_drawn: tofu !== blank, e001_is_tofu: draw('\uE001') === tofu};
  let text = document.title + ' ' + document.body.textContent;
  for (const el of document.querySelectorAll('[alt],[title]'))
    text += ' ' + (el.getAttribute('alt') || '') + ' ' + (el.getAttribute('title') || '');
  const seen = new Set();
  for (const ch of text) {
    if (ch.codePointAt(0) < 0x80 || seen.has(ch) || /\s/.test(ch)) continue;
    seen.add(ch);
    if (draw(ch) === tofu) out.glyphs.push(ch + ' U+' + ch.codePointAt(0).toString(16).toUpperCase());
  }
  out.checked_glyphs = seen.size;
  out.overflow = document.documentElement.scrollWidth - innerWidth;
  out.height = document.documentElement.scrollHeight;
  return out;
})()
"""


def check_width(br, url, page_dir, width, shots, problems):
    br.call("Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 700})
    br.events.clear()
    br.call("Page.navigate", {"url": url})
    br.wait_event("Page.loadEventFired", timeout=60)
    br.drain(0.5)
    res = br.call("Runtime.evaluate", {"expression": PAGE_JS, "awaitPromise": True,
                                       "returnByValue": True}, timeout=120)
    if "exceptionDetails" in res:
        problems.append("%d px: the check script failed: %s" % (width, res["exceptionDetails"]))
        return
    r = res["result"]["value"]
    br.drain(0.3)
    tag = "%d px" % width
    for e in br.events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            problems.append("%s: console %s: %s" % (tag, p["type"], " ".join(
                str(a.get("value", a.get("description", ""))) for a in p.get("args", []))))
        elif m == "Runtime.exceptionThrown":
            problems.append("%s: uncaught exception: %s" % (tag, p["exceptionDetails"].get("text")))
        elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
            problems.append("%s: %s %s" % (tag, p["entry"].get("text"), p["entry"].get("url", "")))
    for i in r["images"]:
        if not i["ok"]:
            problems.append("%s: image does not decode: %s" % (tag, i["src"]))
    for a in r["links"]:
        if not a["ok"]:
            problems.append("%s: link to a missing anchor: %s" % (tag, a["href"]))
        elif a["url"].startswith("file://") and not a["href"].startswith("#"):
            path = urllib.parse.unquote(urllib.parse.urlparse(a["url"]).path)
            if not os.path.exists(path):
                problems.append("%s: link to a missing file: %s" % (tag, a["href"]))
    st = r["selftest"]
    if not st["tofu_drawn"] or not st["e001_is_tofu"]:
        problems.append("%s: the missing-glyph check cannot tell a box here (%s)" % (tag, st))
    for g in r["glyphs"]:
        problems.append("%s: drawn as a missing-glyph box: %s" % (tag, g))
    if r["overflow"] > 0:
        problems.append("%s: the page is %d px wider than the window" % (tag, r["overflow"]))
    if shots:
        os.makedirs(shots, exist_ok=True)
        h = min(r["height"], 30000)
        br.call("Emulation.setDeviceMetricsOverride",
                {"width": width, "height": h, "deviceScaleFactor": 1, "mobile": width < 700})
        # the whole page, and its first screenful and a half (what a reader sees first)
        for name, clip in (("page-%d.png" % width, None),
                           ("page-%d-top.png" % width, {"x": 0, "y": 0, "width": width,
                                                        "height": min(h, 1400), "scale": 1})):
            params = {"format": "png"}
            if clip:
                params["clip"] = clip
            shot = br.call("Page.captureScreenshot", params, timeout=120)
            with open(os.path.join(shots, name), "wb") as f:
                f.write(base64.b64decode(shot["data"]))
    print("check_page: %s: %d images, %d links, %d distinct non-ASCII characters checked" %
          (tag, len(r["images"]), len(r["links"]), r["checked_glyphs"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("page")
    ap.add_argument("--shots", help="directory for page-<width>.png screenshots")
    ap.add_argument("--browser", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--widths", default="1280,390")
    a = ap.parse_args()
    if not os.path.isfile(a.page):
        print("check_page: %s: no such file" % a.page, file=sys.stderr)
        return 2
    if not os.access(a.browser, os.X_OK):
        print("check_page: chromium not found (apt-get install chromium; scripts/packages.txt lists it)",
              file=sys.stderr)
        return 2
    page = os.path.abspath(a.page)
    url = "file://" + urllib.request.pathname2url(page)
    problems = []
    br = Browser(a.browser)
    try:
        t = br.call("Target.createTarget", {"url": "about:blank"}, session=False)
        s = br.call("Target.attachToTarget", {"targetId": t["targetId"], "flatten": True}, session=False)
        br.session = s["sessionId"]
        for dom in ("Page", "Runtime", "Log"):
            br.call(dom + ".enable")
        for w in a.widths.split(","):
            check_width(br, url, os.path.dirname(page), int(w), a.shots, problems)
    except (RuntimeError, TimeoutError, OSError) as e:
        print("check_page: browser error: %s" % e, file=sys.stderr)
        return 2
    finally:
        br.close()
    for p in problems:
        print("check_page: FAIL: " + p)
    print("check_page: %s: %s" % (a.page, "%d problems" % len(problems) if problems else "ok"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
