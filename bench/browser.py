"""Headless Chromium (Debian's package) through Playwright, with the network off: what the report's browser test
and the report benchmark open reports with. Installs nothing."""
import os
import shutil
from typing import Dict, Optional

CHROMIUM = '/usr/bin/chromium'
INSTALL_CHROMIUM = 'apt-get install -y chromium  (Debian; `make test` does this when it can)'
# Without these, Chromium tries Google's services at start-up; on a closed network they fail, noisily.
_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
         '--disable-sync', '--no-first-run']


def find_chromium() -> Optional[str]:
  return CHROMIUM if os.path.exists(CHROMIUM) else shutil.which('chromium')


def open_offline(html_path: str, screenshot: Optional[str] = None, loads: int = 1) -> Dict[str, object]:
  """Opens a local HTML file `loads` times; returns what the page did the first time and how long each load took.

  Returns {'console': [(type, text)], 'errors': [page errors], 'requests': [URLs other than the file itself],
  'broken_images': [alt texts], 'text': the visible text, 'load_ms': [navigation start to load event, per load]}.
  """
  from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top
  chromium = find_chromium()
  if chromium is None:
    raise FileNotFoundError(f'Chromium is not installed; install it with: {INSTALL_CHROMIUM}')
  url = 'file://' + os.path.abspath(html_path)
  seen = {'console': [], 'errors': [], 'requests': [], 'load_ms': []}
  with sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path=chromium, args=_ARGS)
    try:
      context = browser.new_context(offline=True, viewport={'width': 1200, 'height': 900})
      page = context.new_page()
      page.on('console', lambda message: seen['console'].append((message.type, message.text)))
      page.on('pageerror', lambda error: seen['errors'].append(str(error)))
      page.on('request', lambda request: request.url != url and not request.url.startswith('data:')
              and seen['requests'].append(request.url))
      for _ in range(loads):
        page.goto(url, wait_until='load')
        seen['load_ms'].append(page.evaluate(
            "(() => { const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime; })()"))
      seen['text'] = page.inner_text('body')
      seen['broken_images'] = page.evaluate(
          '[...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.alt)')
      if screenshot:
        page.screenshot(path=screenshot, full_page=True)
    finally:
      browser.close()
  return seen
