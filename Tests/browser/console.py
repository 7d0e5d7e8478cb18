#!/usr/bin/env python3
"""The web console in a real browser: headless Chromium driven by Selenium, against a live
`argus serve --open-signup`.

    console.py BASE_URL [SCREENSHOT_DIR]

Covers: sign-up shows the first key once and it answers /v1/ping; a key made with the `name` form;
roll with an overlap (old and new both work, then the old one stops); revoke; CSRF refusal; the
session cookie changes at every log-in (no fixation); an external_id of <script> renders as text;
a viewer never reaches the keys page; tenant A's console never shows tenant B's data; the mode
switch is on every page. Exits 1 at the first failure."""
import json, sys, time, urllib.error, urllib.parse, urllib.request, uuid

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

BASE = sys.argv[1].rstrip("/")
SHOTS = sys.argv[2] if len(sys.argv) > 2 else None
checks = 0


def check(what, ok, detail=""):
    global checks
    checks += 1
    if not ok:
        print(f"FAIL {what} {detail}")
        sys.exit(1)


def browser():
    o = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000", "--disable-gpu"):
        o.add_argument(a)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)


def api(method, path, key, body=None):
    req = urllib.request.Request(BASE + path, data=None if body is None else json.dumps(body).encode(), method=method)
    req.add_header("Authorization", "Bearer " + key)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def post_form(path, cookies, fields):
    """A form post outside the browser, with the browser's cookies: what a forged request can do."""
    req = urllib.request.Request(BASE + path, data=urllib.parse.urlencode(fields).encode(), method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    req.add_header("Cookie", "; ".join(f"{c['name']}={c['value']}" for c in cookies))
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def click(d, element):
    """Clicks a submit button and waits for the next page: nothing is read from the old one."""
    old = d.find_element(By.TAG_NAME, "html")
    element.click()

    def replaced(_):
        # The old page's root is gone once the next page has loaded; while it is being replaced the
        # browser may answer with either a stale-element or a "node not in document" error.
        try:
            old.is_enabled()
            return False
        except Exception:
            return True

    WebDriverWait(d, 20).until(replaced)


def submit(d, form_css=None):
    scope = d.find_element(By.CSS_SELECTOR, form_css) if form_css else d
    click(d, scope.find_element(By.CSS_SELECTOR, "button[type=submit]"))


def signup(d, org, email, password="correct horse battery"):
    d.get(BASE + "/console/signup")
    d.find_element(By.NAME, "tenant_name").send_keys(org)
    d.find_element(By.NAME, "email").send_keys(email)
    d.find_element(By.NAME, "password").send_keys(password)
    click(d, d.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    found = d.find_elements(By.ID, "new-secret")
    check("sign-up shows a secret key", bool(found) and found[0].text.startswith("sk_test_"), d.page_source[:1500])
    secret = found[0].text
    return secret


def login(d, email, password="correct horse battery"):
    d.get(BASE + "/console/login")
    d.find_element(By.NAME, "email").send_keys(email)
    d.find_element(By.NAME, "password").send_keys(password)
    click(d, d.find_element(By.CSS_SELECTOR, "button[type=submit]"))


def session_cookie(d):
    c = d.get_cookie("argus_session")
    return c and c["value"]


def mode_shown(d, what):
    check(f"{what}: the mode is shown", d.find_element(By.ID, "mode").text in ("TEST MODE", "LIVE MODE"))


run = uuid.uuid4().hex[:8]
a_email, b_email = f"owner-{run}@a.test", f"owner-{run}@b.test"
a = browser()
try:
    # Sign-up: the key is shown once and works.
    a_key = signup(a, "Tenant A", a_email)
    check("sign-up key answers /v1/ping", api("GET", "/v1/ping", a_key)[0] == 200)
    mode_shown(a, "keys")
    a.get(BASE + "/console/keys")
    check("the secret is shown only once", not a.find_elements(By.ID, "new-secret") and a_key not in a.page_source)
    a_key_id = api("GET", "/v1/ping", a_key)[1]["credential"]
    a_tenant = api("GET", "/v1/ping", a_key)[1]["tenant"]

    # A key from the `name` form.
    a.find_element(By.CSS_SELECTOR, "#create-key input[name=name]").send_keys("ci server")
    submit(a, "#create-key")
    named = a.find_element(By.ID, "new-secret").text
    check("the name form makes a secret key that works", named.startswith("sk_test_") and api("GET", "/v1/ping", named)[0] == 200)

    # Roll with a 10 s overlap (room for a slow page load before the first check): both work, then only the new one.
    row = a.find_element(By.CSS_SELECTOR, f"tr[data-key-id='{a_key_id}']")
    field = row.find_element(By.NAME, "expires_in")
    field.clear()
    field.send_keys("10")
    rolled_at = time.time()
    click(a, row.find_element(By.CSS_SELECTOR, "form.roll button[type=submit]"))
    rolled = a.find_element(By.ID, "new-secret").text
    check("roll shows the new key", rolled.startswith("sk_test_") and rolled != a_key)
    during = api("GET", "/v1/ping", a_key)[0]
    check("during the overlap the old key works", during == 200 and time.time() - rolled_at < 10, f"{during} after {time.time() - rolled_at:.1f} s")
    check("the new key works", api("GET", "/v1/ping", rolled)[0] == 200)
    time.sleep(max(0.0, rolled_at + 11 - time.time()))
    check("after the overlap the old key is refused", api("GET", "/v1/ping", a_key)[0] == 401)
    check("the new key still works", api("GET", "/v1/ping", rolled)[0] == 200)
    # Revoke the named key with its button.
    named_id = api("GET", "/v1/ping", named)[1]["credential"]
    a.get(BASE + "/console/keys")
    click(a, a.find_element(By.CSS_SELECTOR, f"tr[data-key-id='{named_id}'] form.revoke button[type=submit]"))
    check("a revoked key is refused", api("GET", "/v1/ping", named)[0] == 401)
    check("the rolled key is untouched by that revoke", api("GET", "/v1/ping", rolled)[0] == 200, str((named_id, api("GET", "/v1/ping", rolled))))

    # CSRF: the same form without its token, with the browser's own cookies, is refused.
    before = len(a.find_elements(By.CSS_SELECTOR, "tr[data-key-id]"))
    status, _ = post_form("/console/keys", a.get_cookies(), {"name": "forged", "kind": "secret"})
    check("a form without its CSRF token is refused", status == 403, str(status))
    status, _ = post_form("/console/keys", a.get_cookies(), {"name": "forged", "kind": "secret", "csrf": "x" * 43})
    check("a form with a wrong CSRF token is refused", status == 403, str(status))
    a.get(BASE + "/console/keys")
    check("nothing was created by them", len(a.find_elements(By.CSS_SELECTOR, "tr[data-key-id]")) == before)

    # The session cookie changes at every log-in, and a planted one is never adopted.
    first = session_cookie(a)
    click(a, a.find_element(By.CSS_SELECTOR, "form[action='/console/logout'] button[type=submit]"))
    a.add_cookie({"name": "argus_session", "value": "planted-by-attacker", "path": "/console"})
    login(a, a_email)
    second = session_cookie(a)
    check("log-in issues a new session cookie", second and second not in (first, "planted-by-attacker"), str((first, second)))
    click(a, a.find_element(By.CSS_SELECTOR, "form[action='/console/logout'] button[type=submit]"))
    login(a, a_email)
    check("each log-in issues another", session_cookie(a) not in (first, second))
    req = urllib.request.Request(BASE + "/console/keys")
    req.add_header("Cookie", f"argus_session={second}")
    with urllib.request.urlopen(req) as r:
        check("the old session no longer signs in", r.url.endswith("/console/login") and "tr data-key-id" not in r.read().decode(), r.url)

    # <script> in an external_id renders as text.
    evil = "<script>alert(1)</script>"
    created = api("POST", "/v1/subjects", rolled, {"external_id": evil})
    check("subject created", created[0] == 201, str(created))
    a.get(BASE + "/console/subjects")
    mode_shown(a, "subjects")
    cells = [c.text for c in a.find_elements(By.CSS_SELECTOR, "td.external-id")]
    check("the external id is shown as text", evil in cells, str(cells))
    try:
        a.switch_to.alert
        check("no script ran", False)
    except NoAlertPresentException:
        check("no script ran", True)
    check("the markup is escaped", "&lt;script&gt;alert(1)&lt;/script&gt;" in a.page_source)

    # A viewer, invited by link, never reaches the keys page.
    a.get(BASE + "/console/team")
    a.find_element(By.NAME, "role").send_keys("viewer")
    click(a, a.find_element(By.CSS_SELECTOR, "form[action='/console/team/invite'] button[type=submit]"))
    link = a.find_element(By.ID, "invite-link").text
    v = browser()
    try:
        v.get(link)
        v.find_element(By.NAME, "email").send_keys(f"viewer-{run}@a.test")
        v.find_element(By.NAME, "password").send_keys("viewer password 1")
        click(v, v.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        mode_shown(v, "viewer's sessions")
        check("a viewer has no keys link", not v.find_elements(By.CSS_SELECTOR, "a[href='/console/keys']"))
        v.get(BASE + "/console/keys")
        check("a viewer cannot reach the keys page", "Viewers cannot" in v.page_source and not v.find_elements(By.CSS_SELECTOR, "tr[data-key-id]"))
        status, _ = post_form("/console/keys", v.get_cookies(), {"name": "v", "kind": "secret"})
        check("nor create a key", status == 403)
        try:
            urllib.request.urlopen(link)
            check("the invitation works once", False)
        except urllib.error.HTTPError as e:
            check("the invitation works once", e.code == 404, str(e.code))
    finally:
        v.quit()

    # Tenant B: its console and A's never meet.
    b = browser()
    try:
        b_key = signup(b, "Tenant B", b_email)
        b_key_id = api("GET", "/v1/ping", b_key)[1]["credential"]
        check("B's subject", api("POST", "/v1/subjects", b_key, {"external_id": f"b-only-{run}"})[0] == 201)
        b.get(BASE + "/console/subjects")
        check("B sees its subject", f"b-only-{run}" in b.page_source and evil not in b.page_source)
        b.get(BASE + "/console/keys")
        check("B's keys page lacks A's keys", a_key_id not in b.page_source)
        a.get(BASE + "/console/subjects")
        check("A's subjects page lacks B's subject", f"b-only-{run}" not in a.page_source)
        a.get(BASE + "/console/keys")
        check("A's keys page lacks B's key", b_key_id not in a.page_source)
        a_csrf = a.find_element(By.CSS_SELECTOR, "#create-key input[name=csrf]").get_attribute("value")
        status, _ = post_form(f"/console/keys/{b_key_id}/revoke", a.get_cookies(), {"csrf": a_csrf})
        check("A cannot revoke B's key (404)", status == 404, str(status))
        check("B's key still works", api("GET", "/v1/ping", b_key)[0] == 200)
        a.get(BASE + "/console/audit")
        mode_shown(a, "audit")
        check("A's audit lacks B's rows", b_key_id not in a.page_source and f"b-only" not in a.page_source)
    finally:
        b.quit()

    # The mode switch: live mode shows live keys only.
    a.get(BASE + "/console/keys")
    click(a, a.find_element(By.ID, "switch-mode"))
    check("the switch goes to live mode", a.find_element(By.ID, "mode").text == "LIVE MODE")
    check("no test key is listed in live mode", not a.find_elements(By.CSS_SELECTOR, f"tr[data-key-id='{a_key_id}']"))
    click(a, a.find_element(By.ID, "switch-mode"))
    check("and back", a.find_element(By.ID, "mode").text == "TEST MODE")

    # Failed log-ins are limited per account: the sixth wrong password in a row is refused unseen.
    import http.cookiejar, re
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    statuses = []
    for _ in range(6):
        page = opener.open(BASE + "/console/login").read().decode()
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        try:
            opener.open(BASE + "/console/login", data=urllib.parse.urlencode({"csrf": token, "email": a_email, "password": "wrong password"}).encode())
            statuses.append(200)
        except urllib.error.HTTPError as e:
            statuses.append(e.code)
    check("wrong passwords are 401, then 429 for the account", statuses == [401] * 5 + [429], str(statuses))

    if SHOTS:
        a.get(BASE + "/console/keys")
        a.save_screenshot(f"{SHOTS}/console-keys.png")
        a.get(BASE + "/console/audit")
        a.save_screenshot(f"{SHOTS}/console-audit.png")
finally:
    a.quit()
print(f"console.py: {checks} checks passed in headless Chromium")
