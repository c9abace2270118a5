"""The collectors' part of the web page: signing in with a key, a "Watch" panel on a product page, "My watches"
(`/watches`: the caller's watches, the alerts each raised, removing one) and the caller's alert destinations.

Fragments of HTML, CSS and JavaScript put into `page.PAGE_HTML` at its `@watches` markers by `insert_watches`, so
this part and the rest of the page change apart. The key lives in the tab's `sessionStorage` only (never in a
URL, a cookie or `localStorage`): closing the tab or "Sign out" forgets it. All text from the API is inserted with
`textContent`.
"""

from __future__ import annotations

WATCH_CSS = r"""
  #account { float: right; font-size: .95rem; }
  #account button { padding: .15rem .5rem; font-size: .9rem; }
  #account a { font-weight: normal; text-decoration: underline; }
  .watch-panel, article.watch { background: #fff; border: 1px solid #e4e4e0; padding: .6rem .9rem; margin: 1rem 0; }
  .watch-panel fieldset { border: none; padding: 0; margin: .4rem 0; }
  .watch-panel label { margin-right: 1rem; }
  article.watch h3 { margin: .2rem 0 .4rem; font-size: 1.05rem; }
  .ok { color: #176b17; }
"""

ACCOUNT_HTML = r"""<span id="account">
  <button id="sign-in" type="button" hidden>Sign in</button>
  <span id="signed-in" hidden><span id="whoami"></span> · <a href="/watches" id="my-watches-link">My watches</a>
    · <button id="sign-out" type="button">Sign out</button></span>
</span>"""

VIEWS_HTML = r"""<section id="watches-view" hidden>
    <h1>My watches</h1>
    <p id="watches-status" class="muted"></p>
    <div id="watch-list"></div>
    <h2>Alert destinations</h2>
    <p class="muted">Your alerts are POSTed to each verified URL, signed with its secret
      (header <code>X-Ornaments-Signature</code>: <code>sha256=</code> HMAC-SHA256 of the body). A new URL gets a
      signed test delivery first and is used only once it answers 2xx.</p>
    <table id="destinations"><thead><tr><th>URL</th><th>Status</th><th></th></tr></thead><tbody></tbody></table>
    <form id="destination-form" method="post" action="">
      <input id="destination-url" type="url" size="50" placeholder="https://example.com/ornament-alerts" required>
      <button type="submit" id="destination-add">Add destination</button>
      <span id="destination-status"></span>
    </form>
  </section>
  <template id="watch-panel-template">
    <section class="watch-panel" id="watch-panel">
      <h2>Watch</h2>
      <p id="watch-hint" class="muted"></p>
      <form id="watch-form" method="post" action="" hidden>
        <fieldset>
          <label><input type="radio" name="watch-what" id="watch-ornament" value="ornament" checked>
            This ornament, <span class="watch-item"></span>, at any vendor</label>
          <label><input type="radio" name="watch-what" id="watch-listing" value="listing">
            Only at <span class="watch-vendor"></span></label>
        </fieldset>
        <fieldset>
          <label>Condition <input id="watch-condition" size="6" maxlength="16" placeholder="any"></label>
          <label>Target price $<input id="watch-max-price" type="number" min="0.01" step="0.01" style="width:7rem"
                 placeholder="none"></label>
        </fieldset>
        <fieldset id="watch-kinds"><span>Alert me on:</span></fieldset>
        <button type="submit" id="watch-button">Watch</button>
        <span id="watch-status"></span>
      </form>
    </section>
  </template>"""

WATCH_SCRIPT = r"""
// ---- signing in, watches, destinations (page_watches.py) ----
const KEY_SLOT = "ornamentsApiKey";
const ALERT_KINDS = {price_drop: "Price drop", back_in_stock: "Back in stock", new_listing: "New listing",
                     all_time_low: "All-time low"};
localStorage.removeItem(KEY_SLOT);  // where an older page kept it: the key belongs to this tab's session only

function signedInKey() { return sessionStorage.getItem(KEY_SLOT); }
function signIn(key) {
  if (key) sessionStorage.setItem(KEY_SLOT, key);
  location.reload();
}
function signOut() {
  sessionStorage.removeItem(KEY_SLOT);
  location.assign("/");
}

// A write (or read) of the API with the signed-in key; errors carry the API's message and field reasons.
async function send(method, path, body) {
  const headers = {"Accept": "application/json"};
  const key = signedInKey();
  if (key) headers["X-API-Key"] = key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(API + path, {method, headers,
                                            body: body === undefined ? undefined : JSON.stringify(body)});
  const data = await response.json().catch(() => ({}));
  if (response.status === 401) throw new AuthNeeded(data.error ? data.error.message : "API key needed");
  if (!response.ok) {
    const error = data.error || {};
    const reasons = (error.fields || []).map((f) => f.message).join("; ");
    throw new Error(reasons || error.message || ("HTTP " + response.status));
  }
  return data;
}

let whoAmI = null;

async function showAccount() {
  $("sign-in").addEventListener("click", () => askForKey(""));
  $("sign-out").addEventListener("click", signOut);
  if (!signedInKey()) { $("sign-in").hidden = false; return null; }
  try {
    whoAmI = await send("GET", "/me");
  } catch (error) {
    if (error instanceof AuthNeeded) { askForKey(error.message); $("sign-in").hidden = false; return null; }
    throw error;
  }
  $("whoami").textContent = whoAmI.name + " (" + whoAmI.scope + ")";
  $("signed-in").hidden = false;
  return whoAmI;
}

function canWatch(me) { return me && (me.scope === "collector" || me.scope === "admin"); }

function watchSummary(w) {
  return [w.item_number, w.condition || "any condition", w.vendor ? (VENDORS[w.vendor] || w.vendor) : "any vendor",
          w.max_price ? "target $" + w.max_price : null, w.kinds.map((k) => ALERT_KINDS[k] || k).join(", "),
          w.label].filter((v) => v).join(" · ");
}

// ---- the "Watch" panel of a product page ----
async function showWatchPanel(productId, account) {
  const panel = $("watch-panel-template").content.firstElementChild.cloneNode(true);
  $("product-link").parentElement.after(panel);
  const me = await account;
  const product = await api("/products/" + encodeURIComponent(productId));
  const hint = !product.item_number ? "No Hallmark item number is known: nothing to watch."
    : !me ? "Sign in with a collector key to watch this ornament."
    : !canWatch(me) ? "Your key is read-only: watching needs a collector key." : null;
  if (hint) { $("watch-hint").textContent = hint; return; }
  panel.querySelector(".watch-item").textContent = product.item_number;
  panel.querySelector(".watch-vendor").textContent = VENDORS[product.vendor] || product.vendor;
  $("watch-condition").value = product.condition || "";
  for (const [kind, label] of Object.entries(ALERT_KINDS)) {
    const box = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.value = kind;
    input.checked = true;
    input.id = "watch-kind-" + kind;
    box.append(input, " " + label);
    $("watch-kinds").appendChild(box);
  }
  $("watch-form").hidden = false;
  $("watch-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const kinds = [...$("watch-kinds").querySelectorAll("input:checked")].map((i) => i.value);
    const body = {item_number: product.item_number, kinds: kinds.length ? kinds : null,
                  condition: $("watch-condition").value.trim() || null,
                  vendor: $("watch-listing").checked ? product.vendor : null,
                  max_price: $("watch-max-price").value.trim() || null};
    $("watch-status").className = "muted";
    $("watch-status").textContent = "Saving…";
    try {
      const made = await send("POST", "/watches", body);
      $("watch-status").className = "ok";
      $("watch-status").textContent = "Watching: " + watchSummary(made) + " (watch " + made.id + "). ";
      $("watch-status").appendChild(link("/watches", "My watches"));
    } catch (error) {
      $("watch-status").className = "error";
      $("watch-status").textContent = "Not saved: " + error.message;
    }
  });
}

// ---- My watches ----
function alertLine(a) {
  const p = a.payload || {};
  const product = p.product || {};
  const row = document.createElement("tr");
  row.className = "alert";
  const when = p.event && p.event.occurred_at ? p.event.occurred_at : a.created_at;
  cell(row, when.slice(0, 16).replace("T", " ") + " UTC");
  cell(row, ALERT_KINDS[a.kind] || a.kind);
  cell(row, product.id ? link("/p/" + product.id, product.name || ("listing " + product.id)) : "");
  cell(row, VENDORS[product.vendor] || product.vendor || "");
  cell(row, (p.previous_price ? money(p.previous_price) + " → " : "") + money(p.price), "num");
  return row;
}

async function renderWatch(w) {
  const box = document.createElement("article");
  box.className = "watch";
  box.dataset.watchId = w.id;
  const title = document.createElement("h3");
  title.textContent = watchSummary(w) + (whoAmI && whoAmI.scope === "admin" && w.owner ? " — " + w.owner : "");
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "remove-watch";
  remove.textContent = "Remove";
  remove.addEventListener("click", async () => {
    remove.disabled = true;
    try { await send("DELETE", "/watches/" + w.id); box.remove(); countWatches(); }
    catch (error) { remove.disabled = false; title.textContent += " (not removed: " + error.message + ")"; }
  });
  const alerts = await send("GET", "/watches/" + w.id + "/alerts?limit=50");
  const table = document.createElement("table");
  table.className = "alerts";
  const body = document.createElement("tbody");
  for (const a of alerts) body.appendChild(alertLine(a));
  table.appendChild(body);
  const note = document.createElement("p");
  note.className = "muted";
  note.textContent = alerts.length ? alerts.length + " alert(s), newest first" : "No alert yet.";
  box.append(title, remove, note);
  if (alerts.length) box.appendChild(table);
  return box;
}

function countWatches() {
  const n = $("watch-list").children.length;
  $("watches-status").textContent = n ? n + " watch(es)" : "No watches yet: open an ornament and press Watch.";
}

async function renderDestinations() {
  const rows = $("destinations").querySelector("tbody");
  rows.replaceChildren();
  for (const d of await send("GET", "/destinations")) {
    const row = document.createElement("tr");
    row.className = "destination";
    cell(row, d.url);
    cell(row, d.status === "verified" ? "verified"
      : d.status + (d.last_check_error ? ": " + d.last_check_error : ""));
    const actions = cell(row, "");
    for (const [label, act] of [["Test again", () => send("POST", "/destinations/" + d.id + "/verify")],
                                ["Remove", () => send("DELETE", "/destinations/" + d.id)]]) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.addEventListener("click", () => act().then(renderDestinations).catch(fail));
      actions.appendChild(button);
    }
    rows.appendChild(row);
  }
}

async function showMyWatches(account) {
  $("watches-view").hidden = false;
  document.title = "My watches — Hallmark ornament prices";
  const me = await account;
  if (!me) { $("watches-status").textContent = "Sign in with your key to see your watches."; return; }
  const list = $("watch-list");
  for (const w of await send("GET", "/watches")) list.appendChild(await renderWatch(w));
  countWatches();
  if (me.scope === "read") { $("destination-form").hidden = true; $("destinations").hidden = true; return; }
  await renderDestinations();
  $("destination-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("destination-status").className = "muted";
    $("destination-status").textContent = "Sending a signed test delivery…";
    try {
      const d = await send("POST", "/destinations", {url: $("destination-url").value.trim()});
      $("destination-status").className = d.status === "verified" ? "ok" : "error";
      $("destination-status").textContent = (d.status === "verified" ? "Verified. " : "Not verified: " +
        d.last_check_error + ". ") + "Its secret, shown this once: " + d.secret;
      await renderDestinations();
    } catch (error) {
      $("destination-status").className = "error";
      $("destination-status").textContent = "Not added: " + error.message;
    }
  });
}
"""

_FRAGMENTS = {
    "/* @watches: css */": WATCH_CSS,
    "<!-- @watches: account -->": ACCOUNT_HTML,
    "<!-- @watches: views -->": VIEWS_HTML,
    "// @watches: script": WATCH_SCRIPT,
}


def insert_watches(page: str) -> str:
    """`page` with each `@watches` marker replaced by its fragment (each marker must appear exactly once)."""
    for marker, fragment in _FRAGMENTS.items():
        if page.count(marker) != 1:
            raise RuntimeError(f"page.py: the marker {marker!r} must appear exactly once")
        page = page.replace(marker, fragment)
    return page
