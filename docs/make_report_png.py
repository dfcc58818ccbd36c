"""Regenerate docs/report.png: the page for samples/demo1.mp4 with samples/demo1.json's events."""
import json, shutil, sys, time, functools, http.server, threading
from pathlib import Path
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from PIL import Image
from avlocate.results import Event, Result
from avlocate.outputs.report import write_html

repo = Path(sys.argv[1]); out = Path(sys.argv[2]); work = Path(sys.argv[3])
truth = json.loads((repo / "samples/demo1.json").read_text())
work.mkdir(parents=True, exist_ok=True)
shutil.copy(repo / "samples/demo1.mp4", work / "demo1.mp4")
r = Result(video=str(work / "demo1.mp4"), duration=truth["duration"],
           events=[Event.from_dict(e) for e in truth["events"]], model="ground truth (samples/demo1.json)")
write_html(r, work / "demo1.html")
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(work))
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
threading.Thread(target=srv.serve_forever, daemon=True).start()
o = webdriver.ChromeOptions(); o.binary_location = "/usr/bin/chromium"
for f in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
          "--disable-component-update", "--disable-sync", "--mute-audio", "--window-size=1000,760", "--hide-scrollbars",
          f"--user-data-dir={work}/profile"]:
    o.add_argument(f)
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
d.get((work / "demo1.html").as_uri())
while not d.execute_script("return document.getElementById('player').readyState >= 2"): time.sleep(0.1)
d.find_elements(By.CSS_SELECTOR, ".bar")[1].click()  # seek to an event: a real frame and the playhead mid-way
d.execute_script("document.getElementById('player').currentTime = 7.4")
while d.execute_script("return document.getElementById('player').seeking"): time.sleep(0.1)
time.sleep(0.5)
h = d.execute_script("return document.getElementById('events').getBoundingClientRect().bottom + 16")
d.save_screenshot(str(work / "full.png"))
img = Image.open(work / "full.png").convert("RGB")
img = img.crop((0, 0, img.width, min(img.height, int(h))))
img.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
d.quit(); srv.shutdown()
print(out, out.stat().st_size, img.size)
