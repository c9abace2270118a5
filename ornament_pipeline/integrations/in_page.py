"""Reading a server-rendered page with the browser's own `fetch()` instead of navigating to it.

A navigation makes Chromium parse, lay out and run the whole page before `page_source` serialises it back;
for pages whose content is in the HTML the server sends (every page but hallmarkornaments.com's listing
tiles), that work is wasted: an in-page `fetch()` of the same URL costs about a quarter of a navigation
(benchmarks/scrape_bench.py). It is still the browser's request: its network stack, cookies, User-Agent and
TLS, from a page of the same site (the driver navigates to a site once first), and it reports the HTTP
status and headers directly instead of through the performance log.

Bytes are decoded with the charset the response declares (header, then `<meta charset>`), as a navigation
would; `Response.text()` would assume UTF-8.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.remote.webdriver import WebDriver

FETCH_SCRIPT = """
const [url, timeoutMs] = arguments;
const done = arguments[arguments.length - 1];
const controller = new AbortController();
const timer = setTimeout(() => controller.abort(), timeoutMs);
fetch(url, {credentials: 'include', redirect: 'follow', cache: 'no-store', signal: controller.signal,
            headers: {'Accept': 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'}})
  .then(async (response) => {
    const bytes = await response.arrayBuffer();
    let charset = (/charset\\s*=\\s*["']?([\\w:.-]+)/i.exec(response.headers.get('content-type') || '') || [])[1];
    if (!charset) {
      const head = new TextDecoder('latin1').decode(bytes.slice(0, 4096));
      charset = (/<meta[^>]+charset\\s*=\\s*["']?([\\w:.-]+)/i.exec(head) || [])[1];
    }
    let decoder;
    try { decoder = new TextDecoder(charset || 'utf-8'); } catch (e) { decoder = new TextDecoder('utf-8'); }
    const headers = {};
    response.headers.forEach((value, name) => { headers[name] = value; });
    done({status: response.status, url: response.url, headers: headers, html: decoder.decode(bytes)});
  })
  .catch((error) => done({error: error.name === 'AbortError' ? 'timeout' : String(error)}))
  .finally(() => clearTimeout(timer));
"""


@dataclass(frozen=True)
class FetchedDocument:
    status: int
    url: str
    headers: dict[str, str]
    html: str


class InPageFetchTimeout(Exception):
    """The server did not answer within the page timeout."""


class InPageFetchUnavailable(Exception):
    """`fetch()` could not be used for this URL (network error, a redirect to another site, no page of the
    site loaded): navigate instead."""


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def fetch_in_page(driver: WebDriver, url: str, timeout_seconds: float) -> FetchedDocument:
    """GET `url` with `fetch()` from the driver's current page (which must be of the same origin)."""
    try:
        result: Any = driver.execute_async_script(FETCH_SCRIPT, url, int(timeout_seconds * 1000))
    except TimeoutException:
        raise InPageFetchTimeout(url) from None
    except WebDriverException as exc:
        raise InPageFetchUnavailable((exc.msg or type(exc).__name__).splitlines()[0]) from None
    if not isinstance(result, dict):
        raise InPageFetchUnavailable(f"unexpected script result {type(result).__name__}")
    if result.get("error") == "timeout":
        raise InPageFetchTimeout(url)
    if "error" in result:
        raise InPageFetchUnavailable(str(result["error"]))
    return FetchedDocument(int(result["status"]), str(result["url"] or url),
                           {str(k).lower(): str(v) for k, v in dict(result["headers"]).items()}, str(result["html"]))
