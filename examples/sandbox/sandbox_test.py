#!/usr/bin/env python3
"""Drives the whole e-invoice lifecycle against a running `wxinvoice sandbox`,
standard library only: the WeChat API as a platform calls it, the simulated
WeChat user and reimburser through the control API (/sandbox/...), a fault,
the clock, and the pushes the sandbox delivers to a receiver this test runs.

Start the sandbox first (see docs/sandbox.md), with the push URL this test
listens on:

    wxinvoice sandbox --addr 127.0.0.1:8089 --appid wxsandboxpython01 \
        --secret 0123456789abcdef0123456789abcdef --require-auth \
        --event-url http://127.0.0.1:8090/push --event-token pushtoken

    SANDBOX_URL=http://127.0.0.1:8089 WECHAT_APPID=wxsandboxpython01 \
    WECHAT_APPSECRET=0123456789abcdef0123456789abcdef PUSH_PORT=8090 \
        python3 examples/sandbox/sandbox_test.py
"""

import hashlib
import http.server
import json
import os
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

BASE = os.environ.get("SANDBOX_URL", "http://127.0.0.1:8089").rstrip("/")
APPID = os.environ.get("WECHAT_APPID", "wxsandboxpython01")
SECRET = os.environ.get("WECHAT_APPSECRET", "0123456789abcdef0123456789abcdef")
PUSH_PORT = int(os.environ.get("PUSH_PORT", "8090"))
PUSH_TOKEN = os.environ.get("PUSH_TOKEN", "pushtoken")

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def http_call(method, path, body=None, headers=None):
    """Returns (status, headers, body bytes); HTTP errors are answers too."""
    url = path if path.startswith("http") else BASE + path
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def control(method, path, payload=None, want=200):
    """Calls the control API and returns the decoded JSON answer."""
    body = None if payload is None else json.dumps(payload).encode()
    status, headers, raw = http_call(method, "/sandbox/" + path, body, {"Content-Type": "application/json"})
    assert headers.get("Content-Type", "").startswith("application/json"), raw
    doc = json.loads(raw)
    if status != want:
        raise AssertionError(f"{method} /sandbox/{path}: HTTP {status} (want {want}): {doc}")
    return doc


class Receiver(http.server.BaseHTTPRequestHandler):
    """The platform's push URL: checks WeChat's signature, answers success."""

    pushes = []
    lock = threading.Lock()

    def do_POST(self):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        parts = sorted([PUSH_TOKEN, q["timestamp"][0], q["nonce"][0]])
        ok = hashlib.sha1("".join(parts).encode()).hexdigest() == q["signature"][0]
        with Receiver.lock:
            Receiver.pushes.append((ok, body.decode()))
        self.send_response(200 if ok else 401)
        self.end_headers()
        self.wfile.write(b"success" if ok else b"bad signature")

    def log_message(self, *args):
        pass


class SandboxLifecycle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.receiver = http.server.ThreadingHTTPServer(("127.0.0.1", PUSH_PORT), Receiver)
        threading.Thread(target=cls.receiver.serve_forever, daemon=True).start()
        control("GET", "healthz")
        control("POST", "reset")
        control("DELETE", "faults")

    @classmethod
    def tearDownClass(cls):
        cls.receiver.shutdown()
        cls.receiver.server_close()

    # ---- the WeChat API, as a platform calls it ----

    def token(self):
        status, _, raw = http_call("POST", "/cgi-bin/stable_token", json.dumps(
            {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}).encode())
        self.assertEqual(status, 200)
        return json.loads(raw)["access_token"]

    def api(self, path, payload, tok, query=""):
        status, _, raw = http_call("POST", f"{path}?access_token={urllib.parse.quote(tok)}{query}",
                                   json.dumps(payload, ensure_ascii=False).encode(), {"Content-Type": "application/json"})
        self.assertEqual(status, 200, raw)
        return json.loads(raw)

    def ok(self, path, payload, tok, query=""):
        doc = self.api(path, payload, tok, query)
        self.assertEqual(doc["errcode"], 0, f"{path}: {doc}")
        return doc

    def upload(self, tok):
        boundary = "----sandboxtest" + str(int(time.time() * 1000))
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"pdf\"; filename=\"invoice.pdf\"\r\n"
                f"Content-Type: application/pdf\r\n\r\n").encode() + PDF + f"\r\n--{boundary}--\r\n".encode()
        status, _, raw = http_call("POST", "/card/invoice/platform/setpdf?access_token=" + urllib.parse.quote(tok), body,
                                   {"Content-Type": "multipart/form-data; boundary=" + boundary})
        self.assertEqual(status, 200)
        doc = json.loads(raw)
        self.assertEqual(doc["errcode"], 0, doc)
        return doc["s_media_id"]

    def insert_body(self, card_id, media_id, order_id):
        return {"order_id": order_id, "card_id": card_id, "appid": APPID, "card_ext": {
            "nonce_str": "n-" + order_id, "user_card": {"invoice_user_data": {
                "fee": 11800, "title": "某某科技有限公司", "billing_time": int(time.time()), "billing_no": "NO-" + order_id,
                "billing_code": "044001900111", "info": [{"name": "技术服务费", "num": 1, "unit": "次", "price": 11800}],
                "fee_without_tax": 11132, "tax": 668, "s_pdf_media_id": media_id}}}}

    def test_lifecycle(self):
        tok = self.token()
        s_pappid = self.ok("/card/invoice/seturl", {}, tok)["invoice_url"].split("s_pappid=")[1]
        self.ok("/card/invoice/setbizattr", {"contact": {"phone": "020-12345678", "time_out": 7200}}, tok,
                "&action=set_contact")
        status, _, raw = http_call("GET", "/cgi-bin/ticket/getticket?type=wx_card&access_token=" + urllib.parse.quote(tok))
        ticket = json.loads(raw)["ticket"]
        card_id = self.ok("/card/invoice/platform/createcard", {"invoice_info": {
            "payee": "某某科技有限公司", "type": "广东省增值税普通发票",
            "base_info": {"logo_url": "http://mmbiz.qpic.cn/mmbiz/logo/0", "title": "某某科技"}}}, tok)["card_id"]
        media_id = self.upload(tok)

        # The order's authorization page is the sandbox's own.
        order = "py-order-1"
        auth_url = self.ok("/card/invoice/getauthurl", {"s_pappid": s_pappid, "order_id": order, "money": 11800,
                                                        "timestamp": int(time.time()), "source": "web", "ticket": ticket,
                                                        "type": 0}, tok)["auth_url"]
        self.assertTrue(auth_url.startswith(BASE + "/sandbox/pages/authorize?"), auth_url)
        status, _, page = http_call("GET", auth_url)
        self.assertEqual(status, 200)
        self.assertIn(order, page.decode())
        self.assertIn("¥118.00", page.decode())

        # --require-auth: nobody authorized the order yet.
        self.assertEqual(self.api("/card/invoice/insert", self.insert_body(card_id, media_id, order), tok)["errcode"], 72038)

        # The user presses 授权 (the control API does what the page's button does).
        o = control("POST", "user/authorize", {"auth_url": auth_url, "openid": "o-python-user"})
        self.assertEqual(o["status"], "auth success")
        ins = self.ok("/card/invoice/insert", self.insert_body(card_id, media_id, order), tok)
        self.assertEqual(ins["openid"], "o-python-user")
        code = ins["code"]

        # A fault: the next getpdf answers an HTML 502, the one after works.
        faults = control("POST", "faults", {"path": "/card/invoice/platform/getpdf", "http_status": 502,
                                            "body": "<html>502 Bad Gateway</html>", "count": 1}, want=201)["faults"]
        self.assertEqual(faults[0]["count"], 1)
        status, headers, raw = http_call("POST", "/card/invoice/platform/getpdf?action=get_url&access_token=" + tok,
                                         json.dumps({"action": "get_url", "s_media_id": media_id}).encode())
        self.assertEqual(status, 502)
        self.assertIn("Bad Gateway", raw.decode())
        pdf_url = self.ok("/card/invoice/platform/getpdf", {"action": "get_url", "s_media_id": media_id}, tok,
                          "&action=get_url")["pdf_url"]
        self.assertTrue(pdf_url.startswith(BASE), pdf_url)
        status, _, data = http_call("GET", pdf_url)
        self.assertEqual((status, data), (200, PDF))
        self.assertEqual(control("GET", "faults")["faults"], [])

        # An errcode fault on every path until cleared.
        control("POST", "faults", {"path": "*", "errcode": -1}, want=201)
        self.assertEqual(self.api("/card/code/decrypt", {"encrypt_code": "x"}, tok)["errcode"], -1)
        control("DELETE", "faults")
        self.assertEqual(self.api("/card/code/decrypt", {"encrypt_code": "x"}, tok)["errcode"], 40056)

        # The reimburser locks the invoice; the state says so.
        inv = control("POST", "reimburser/status", {"card_id": card_id, "code": code, "status": "INVOICE_REIMBURSE_LOCK"})
        self.assertEqual(inv["status"], "INVOICE_REIMBURSE_LOCK")
        state = control("GET", "state")
        [mine] = [i for i in state["invoices"] if i["code"] == code]
        self.assertEqual((mine["status"], mine["openid"], mine["fee"]), ("INVOICE_REIMBURSE_LOCK", "o-python-user", 11800))
        self.assertEqual([p["size"] for p in state["pdfs"]], [len(PDF)])
        [o] = [o for o in state["orders"] if o["order_id"] == order]
        self.assertEqual(o["status"], "auth success")

        # The recorded requests show the errcodes and the fault, never the token.
        status, _, raw = http_call("GET", "/sandbox/requests")
        self.assertNotIn(tok, raw.decode())
        self.assertNotIn(SECRET, raw.decode())
        reqs = json.loads(raw)["requests"]
        self.assertIn(72038, [r["errcode"] for r in reqs if r["path"] == "/card/invoice/insert"])
        self.assertIn("http 502", [r.get("fault") for r in reqs])

        # Pushes: user_authorize_invoice and the lock reached the receiver, signed.
        deadline = time.time() + 30
        while time.time() < deadline:
            pushes = control("GET", "pushes")["pushes"]
            if len(pushes) >= 2 and all(p["done"] for p in pushes):
                break
            time.sleep(0.1)
        events = [p["event"] for p in pushes]
        self.assertEqual(events, ["user_authorize_invoice", "update_invoice_status"])
        self.assertTrue(all(p["delivered"] and p["attempts"][0]["http_status"] == 200 for p in pushes), pushes)
        with Receiver.lock:
            got = list(Receiver.pushes)
        self.assertEqual(len(got), 2)
        self.assertTrue(all(ok for ok, _ in got))
        self.assertIn("<SuccOrderId><![CDATA[py-order-1]]></SuccOrderId>", got[0][1])
        self.assertIn("INVOICE_REIMBURSE_LOCK", got[1][1])

        # The clock: two hours later the token has expired.
        before = control("GET", "healthz")["now"]
        after = control("POST", "clock/advance", {"seconds": 7201})["now"]
        self.assertGreater(after, before)
        self.assertEqual(self.api("/card/code/decrypt", {"encrypt_code": "x"}, tok)["errcode"], 42001)

        # The console shows the card pack.
        status, _, html = http_call("GET", "/?refresh=0")
        self.assertEqual(status, 200)
        self.assertIn(f'data-code="{code}"', html.decode())

    def test_control_errors(self):
        status, _, raw = http_call("POST", "/sandbox/clock/advance", b'{"secs": 1}', {"Content-Type": "application/json"})
        self.assertEqual(status, 400)
        self.assertIn("unknown field", json.loads(raw)["error"])
        status, _, raw = http_call("GET", "/sandbox/nope")
        self.assertEqual(status, 404)
        status, _, raw = http_call("POST", "/sandbox/user/authorize", b'{"order_id": "never-asked"}')
        self.assertEqual(status, 409)
        self.assertIn("no auth URL", json.loads(raw)["error"])
        doc = json.loads(http_call("GET", "/sandbox/openapi.json")[2])
        self.assertTrue(doc["openapi"].startswith("3."))
        self.assertIn("/sandbox/faults", doc["paths"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
