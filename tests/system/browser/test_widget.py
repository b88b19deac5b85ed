"""The website chat widget in real headless Chromium, against real servers.

One module-scoped stack: an action server and `rasa run` (socket.io channel,
credentials.yml) on a throwaway database, and the web app serving the demo
page with the widget pointing at that Rasa. A clinic's own site (another
origin, which Rasa's --cors allows) is a small local server: its pages embed
the widget elsewhere, or point it at a Rasa that is down or drops.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from clinic.profile import load_profile
from db.engine import session_factory
from db.migrate import upgrade
from db.models import Lead
from tests.conftest import ROOT, read_yaml
from tests.servers import assistant_env, assistant_with_web_app, free_port
from tests.stack import widget_conversation

pytestmark = pytest.mark.slow

PROFILE = load_profile()
ANSWERS = read_yaml(ROOT / "data" / "responses" / "faq.yml")["responses"]
LAUNCHER = re.compile(r"^Chat with ")


class ClinicSite:
    """A clinic's own website, at http://localhost:<port>, serving given pages."""

    def __init__(self) -> None:
        pages: Dict[str, str] = {}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                body = pages.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((body or "not found").encode())

            def log_message(self, *args) -> None:
                pass

        self.pages = pages
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://localhost:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, html: str) -> str:
        """Publishes `html`; returns its URL."""
        path = f"/{uuid.uuid4().hex}.html"
        self.pages[path] = html
        return self.origin + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Stack:
    web: str  # the web app (demo page)
    site: ClinicSite  # another origin, for pages that embed the widget
    rasa: str
    rasa_port: int
    database_url: str
    logs: List[Path]


@pytest.fixture(scope="module")
def stack(trained_model, tmp_path_factory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("widget")
    database_url = f"sqlite:///{tmp / 'clinic.db'}"
    upgrade(database_url)
    actions_port, rasa_port, web_port = free_port(), free_port(), free_port()
    web = f"http://127.0.0.1:{web_port}"
    site = ClinicSite()
    rasa = f"http://127.0.0.1:{rasa_port}"
    env = assistant_env(
        database_url,
        actions_port,
        RASA_URL=rasa,
        PUBLIC_BASE_URL=web,
        # the pages that embed the widget (checked at socket.io connect)
        CHAT_ALLOWED_ORIGINS=f"{web} {site.origin}",
    )
    logs = [tmp / "actions.log", tmp / "rasa.log", tmp / "web.log"]
    ports = (actions_port, rasa_port, web_port)
    try:
        with assistant_with_web_app(
            trained_model, env, ports, tmp, ("--cors", web, site.origin)
        ):
            yield Stack(web, site, rasa, rasa_port, database_url, logs)
    finally:
        site.close()


class Relay:
    """A TCP relay in front of Rasa that a test holds up (a slow reply) or
    cuts (as if Rasa went down)."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = free_port()
        self.flowing = threading.Event()
        self.flowing.set()
        self.sockets: List[socket.socket] = []
        self.lock = threading.Lock()
        self.listener = None

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """Closes the port and every open connection."""
        self.flowing.set()
        with self.lock:
            for sock in [self.listener, *self.sockets]:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.sockets = []

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                self.flowing.wait()
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


# ---- helpers ---------------------------------------------------------------


def clinic_page(page: Page, stack: Stack, server_url: str, **attributes: str) -> None:
    """Opens a page of the clinic's own site that embeds the widget."""
    data = {
        "server-url": server_url,
        "title": "Harbour Physio",
        "clinic-phone": PROFILE.phone,
        "privacy-url": PROFILE.privacy_url,
        **attributes,
    }
    tag = " ".join(
        f'data-{name}="{value}"' for name, value in data.items() if value is not None
    )
    html = (
        "<!doctype html><html lang=en><head><title>Harbour Physio</title></head>"
        "<body><main><h1>Harbour Physio</h1><a href='#top'>A link on the page</a>"
        "</main>"
        f'<script src="{stack.web}/static/widget/ims-chat.js" {tag}></script>'
        "</body></html>"
    )
    page.goto(stack.site.add(html))


def open_widget(page: Page) -> None:
    page.get_by_role("button", name=LAUNCHER).click()
    expect(page.get_by_role("dialog")).to_be_visible()


def wait_online(page: Page) -> None:
    expect(page.locator("#ims-panel")).to_have_attribute("data-state", "online")


def ask(page: Page, text: str) -> None:
    page.get_by_label("Your message").fill(text)
    page.get_by_label("Your message").press("Enter")


def log(page: Page):
    return page.get_by_role("log")


def bot_messages(page: Page):
    return log(page).locator("li.bot .bubble")


def user_messages(page: Page):
    return log(page).locator("li.user .bubble")


def urgent_messages(page: Page):
    return log(page).locator("li.bot.urgent")


def last_bot_text(page: Page) -> str:
    return bot_messages(page).last.inner_text()


FEEDBACK = "Did that answer your question?"


def answers(page: Page):
    """The bot's messages but "Did that answer your question?", which
    follows every FAQ answer on the website (actions/feedback.py)."""
    return bot_messages(page).filter(has_not_text=FEEDBACK)


def answer(key: str) -> str:
    return ANSWERS[key][-1]["text"]


def session_id(page: Page, rasa: str) -> str:
    return page.evaluate(f"localStorage.getItem('ims-chat:{rasa}:session')")


# ---- the walk-through ------------------------------------------------


def test_ask_and_get_the_weekly_answer_then_a_quick_reply(page, stack):
    page.goto(stack.web)
    open_widget(page)
    dialog = page.get_by_role("dialog")
    notice = dialog.locator(".notice")
    expect(notice).to_contain_text("automated assistant")
    expect(notice).to_contain_text("general information only")
    expect(notice).to_contain_text("call 911")
    expect(notice.get_by_role("link", name="Privacy notice")).to_have_attribute(
        "href", PROFILE.privacy_url
    )
    expect(page.get_by_label("Your message")).to_be_focused()

    ask(page, "how often do I need IMS")
    expect(user_messages(page).last).to_contain_text("how often do I need IMS")
    expect(answers(page).last).to_have_text(answer("utter_faq/frequency"))
    assert "once a week" in answers(page).last.inner_text()
    # Then "Did that answer your question?", with Yes and No.
    expect(bot_messages(page).last).to_have_text(FEEDBACK)
    expect(log(page).get_by_role("button", name="Yes", exact=True)).to_be_visible()
    expect(log(page).get_by_role("button", name="No", exact=True)).to_be_visible()
    stamp = log(page).locator("li.bot time").last
    expect(stamp).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))

    log(page).get_by_role("button", name="How many sessions?").click()
    expect(user_messages(page).last).to_have_text(re.compile("How many sessions?"))
    expect(answers(page).last).to_have_text(answer("utter_faq/number_of_sessions"))
    # Only the latest answer's quick replies remain.
    expect(log(page).get_by_role("button", name="How many sessions?")).to_have_count(0)
    # A tap on No: ask in other words, other topics, or a person.
    expect(bot_messages(page).last).to_have_text(FEEDBACK)
    log(page).get_by_role("button", name="No", exact=True).click()
    expect(bot_messages(page).last).to_contain_text("other words")
    expect(log(page).get_by_role("button", name="Talk to the clinic")).to_be_visible()


def test_the_conversation_survives_a_reload_and_reaches_other_tabs(page, stack):
    page.goto(stack.web)
    open_widget(page)
    ask(page, "how often do I need IMS")
    expect(answers(page).last).to_contain_text("once a week")
    page.reload()
    # The panel opens again by itself, with the conversation.
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(user_messages(page)).to_have_text(["how often do I need IMS"])
    expect(answers(page).last).to_contain_text("once a week")
    expect(log(page).get_by_role("button", name="How many sessions?")).to_be_visible()

    # A second tab shows the same conversation and can carry it on.
    other = page.context.new_page()
    other.goto(stack.web)
    open_widget(other)
    expect(user_messages(other)).to_have_text(["how often do I need IMS"])
    ask(other, "does IMS hurt?")
    for tab in (page, other):
        expect(user_messages(tab).last).to_have_text(re.compile("does IMS hurt"))
        expect(answers(tab).last).to_have_text(answer("utter_faq/does_it_hurt"))
        expect(answers(tab)).to_have_count(2)
    assert session_id(page, stack.rasa) == session_id(other, stack.rasa)


def test_rasa_keeps_the_conversation_state_across_a_reload(page, stack):
    page.goto(stack.web)
    open_widget(page)
    wait_online(page)
    page.get_by_role("button", name="Talk to a person").click()
    expect(user_messages(page).last).to_have_text(re.compile("Talk to a person"))
    expect(bot_messages(page).last).to_have_text("What's your name?")
    ask(page, "Robin Ashby")
    expect(bot_messages(page).last).to_contain_text("best phone number or email")
    page.reload()
    wait_online(page)
    # The form goes on where it was: the server kept the session.
    ask(page, "604 555 0188")
    expect(bot_messages(page).last).to_contain_text("good time to reach you")


def test_a_call_back_request_runs_to_the_end_and_is_stored(page, stack):
    page.goto(stack.web)
    open_widget(page)
    wait_online(page)
    page.get_by_role("button", name="Talk to a person").click()
    expect(log(page)).to_contain_text("call you back")
    ask(page, "Sam Okafor")
    expect(bot_messages(page).last).to_contain_text("best phone number or email")
    ask(page, "604-555-0142")
    expect(bot_messages(page).last).to_contain_text("good time")
    log(page).get_by_role("button", name="Afternoons").click()
    expect(bot_messages(page).last).to_contain_text("keep these details")
    privacy = bot_messages(page).last.get_by_role("link", name=PROFILE.privacy_url)
    expect(privacy).to_have_attribute("href", PROFILE.privacy_url)
    log(page).get_by_role("button", name="Yes, I agree").click()
    expect(bot_messages(page).last).to_contain_text("Best time: Afternoons")
    log(page).get_by_role("button", name="Yes, send it").click()
    saved = bot_messages(page).filter(has_text="call-back request")
    expect(saved).to_have_count(1)
    reference = re.search(r"IMS-[A-Z0-9]+", saved.inner_text()).group(0)

    sender = widget_conversation(session_id(page, stack.rasa))
    with session_factory(stack.database_url)() as session:
        lead = session.scalars(select(Lead).where(Lead.sender_id == sender)).one()
    assert lead.reference == reference
    assert (lead.name, lead.phone, lead.kind) == (
        "Sam Okafor",
        "+16045550142",
        "callback",
    )
    assert lead.channel == "socketio"


def test_offline_message_when_rasa_cannot_be_reached(page, stack):
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    clinic_page(page, stack, dead)
    open_widget(page)
    alert = page.get_by_role("dialog").get_by_role("alert")
    expect(alert).to_contain_text("can't connect right now")
    expect(alert).to_contain_text(f"call us at {PROFILE.phone}")
    expect(alert).to_contain_text("In an emergency, call 911")
    tel = "tel:" + re.sub(r"[^\d+]", "", PROFILE.phone)
    expect(alert.get_by_role("link", name=PROFILE.phone)).to_have_attribute("href", tel)
    # A message typed meanwhile is kept, not lost or shown as sent.
    ask(page, "are you there?")
    expect(page.get_by_label("Your message")).to_have_value("are you there?")
    expect(log(page).locator("li")).to_have_count(0)


def test_typing_dots_then_offline_when_the_connection_drops_and_back(page, stack):
    relay = Relay(stack.rasa_port)
    relay.start()
    try:
        clinic_page(page, stack, f"http://127.0.0.1:{relay.port}")
        open_widget(page)
        wait_online(page)
        alert = page.get_by_role("dialog").get_by_role("alert")
        expect(alert).to_have_count(0)
        typing = page.locator("#ims-chat-widget .typing")
        relay.flowing.clear()  # the reply is on its way...
        ask(page, "how often do I need IMS")
        expect(typing).to_be_visible()
        expect(typing).to_contain_text("The assistant is typing")
        relay.flowing.set()
        expect(answers(page).last).to_contain_text("once a week")
        expect(typing).to_be_hidden()

        relay.stop()  # Rasa is gone
        expect(alert).to_contain_text("can't connect right now")
        expect(alert).to_contain_text(PROFILE.phone)

        relay.start()  # and back: the widget reconnects by itself
        wait_online(page)
        expect(alert).to_have_count(0)
        ask(page, "does IMS hurt?")
        expect(answers(page).last).to_have_text(answer("utter_faq/does_it_hurt"))
    finally:
        relay.stop()


# ---- safety -------------------------------------------------------------------


def test_no_html_from_any_message_reaches_the_page(page, stack):
    page.goto(stack.web)
    open_widget(page)
    wait_online(page)
    typed = '<img src=x onerror="window.pwned=1"><b>bold</b>'
    ask(page, typed)
    expect(user_messages(page)).to_have_text(typed)
    expect(log(page).locator("li.bot").first).to_be_visible()  # it answered

    # Stored history is drawn by the same code as live messages: plant
    # hostile bot messages there, then reload.
    key = f"ims-chat:{stack.rasa}:history"
    now = int(time.time() * 1000)
    hostile = [
        {
            "who": "bot",
            "n": 1,
            "time": now + 1,
            "text": "<script>window.pwned=1</script>",
        },
        {
            "who": "bot",
            "n": 2,
            "time": now + 2,
            "text": "[click me](javascript:window.pwned=1)",
        },
        {
            "who": "bot",
            "n": 3,
            "time": now + 3,
            "text": "see data:text/html,<b>x</b> now",
        },
        {
            "who": "bot",
            "n": 4,
            "time": now + 4,
            "text": "Privacy: https://clinic.example.org/privacy. Mail a@example.org",
            "image": "javascript:window.pwned=1",
            "buttons": [{"title": "<i onmouseover=alert(1)>hi</i>", "payload": "hi"}],
        },
    ]
    page.evaluate(
        "([key, value]) => localStorage.setItem(key, value)", [key, json.dumps(hostile)]
    )
    page.reload()
    bubbles = bot_messages(page)
    expect(bubbles).to_have_count(4)
    expect(bubbles.nth(0)).to_have_text("<script>window.pwned=1</script>")
    expect(bubbles.nth(1)).to_have_text("[click me](javascript:window.pwned=1)")
    expect(bubbles.nth(2)).to_have_text("see data:text/html,<b>x</b> now")
    links = bubbles.nth(3).get_by_role("link")
    expect(links).to_have_count(2)
    expect(links.nth(0)).to_have_attribute("href", "https://clinic.example.org/privacy")
    expect(links.nth(1)).to_have_attribute("href", "mailto:a@example.org")
    expect(
        log(page).get_by_role("button", name="<i onmouseover=alert(1)>hi</i>")
    ).to_be_visible()
    widget = page.locator("#ims-chat-widget")
    for tag in ("script", "img", "b", "i"):
        assert widget.locator(f".log {tag}").count() == 0, tag
    hrefs = widget.locator("a").evaluate_all("links => links.map(a => a.href)")
    assert hrefs and all(re.match(r"(https?|tel|mailto):", h) for h in hrefs), hrefs
    assert page.evaluate("window.pwned") is None


# ---- urgent replies and tap-to-call -------------------------------------------


def tel(number: str) -> str:
    return "tel:" + re.sub(r"[^\d+]", "", number)


def test_an_urgent_reply_is_labelled_and_its_numbers_are_tap_to_call(page, stack):
    page.goto(stack.web)
    open_widget(page)
    wait_online(page)
    ask(page, "I have chest pain right now")
    urgent = urgent_messages(page)
    expect(urgent.first).to_be_visible()
    first = urgent.first
    # A word and a sign, not only a colour: "Urgent" is read out first.
    expect(first.locator(".urgent-label")).to_be_visible()
    expect(first.locator(".urgent-label svg")).to_have_attribute("aria-hidden", "true")
    read_out = first.evaluate("li => li.textContent")
    assert read_out.startswith("Assistant: Urgent: "), read_out
    border = first.locator(".bubble").evaluate(
        "b => getComputedStyle(b).borderTopWidth"
    )
    assert border == "2px"
    emergency = first.get_by_role("link", name=PROFILE.emergency_number, exact=True)
    expect(emergency).to_have_attribute("href", tel(PROFILE.emergency_number))
    # Every message of the turn is urgent advice; the answer to a later
    # question is not, but the reminder before it is.
    expect(log(page).locator("li.bot").last).to_contain_text("marked this")
    assert urgent.count() == log(page).locator("li.bot").count() >= 2
    ask(page, "what is your phone number?")
    contact = bot_messages(page).filter(has_text="by phone at")
    expect(contact).to_have_count(1)
    expect(log(page).locator("li.bot").last).not_to_have_class(re.compile("urgent"))
    reminder = urgent.last
    expect(reminder).to_contain_text("If you haven't yet")
    expect(reminder.get_by_role("link", name=PROFILE.emergency_number)).to_have_count(1)
    phone = contact.get_by_role("link", name=PROFILE.phone)
    expect(phone).to_have_attribute("href", tel(PROFILE.phone))
    count = urgent.count()

    # After a reload the history keeps which messages were urgent.
    page.reload()
    expect(urgent_messages(page)).to_have_count(count)
    expect(urgent_messages(page).first.locator(".urgent-label")).to_be_visible()


def test_the_crisis_line_is_tap_to_call_too(page, stack):
    page.goto(stack.web)
    open_widget(page)
    wait_online(page)
    ask(page, "I want to end my life")
    urgent = urgent_messages(page).first
    expect(urgent).to_contain_text(PROFILE.crisis_line)
    for number in (PROFILE.crisis_line, PROFILE.emergency_number):
        link = urgent.get_by_role("link", name=number, exact=True)
        expect(link).to_have_attribute("href", tel(number))


def test_short_numbers_are_linked_only_after_call_text_or_dial(page, stack):
    key = f"ims-chat:{stack.rasa}:history"
    now = int(time.time() * 1000)
    texts = [
        "Call 811 or text 686868, or dial 112.",
        "At 20 weeks, 3 to 12 months, 911 times, call 3 times, IMS-AB123.",
        "Call 604 555 0199 or 604-555-0100.",
    ]
    history = [
        {"who": "bot", "n": i + 1, "time": now + i, "text": t}
        for i, t in enumerate(texts)
    ]
    page.goto(stack.web)
    page.evaluate(
        "([key, value]) => localStorage.setItem(key, value)", [key, json.dumps(history)]
    )
    page.reload()
    open_widget(page)
    bubbles = bot_messages(page)
    expect(bubbles).to_have_count(3)
    hrefs = "links => links.map(a => [a.textContent, a.getAttribute('href')])"
    assert bubbles.nth(0).get_by_role("link").evaluate_all(hrefs) == [
        ["811", "tel:811"],
        ["686868", "tel:686868"],
        ["112", "tel:112"],
    ]
    expect(bubbles.nth(1).get_by_role("link")).to_have_count(0)
    assert bubbles.nth(2).get_by_role("link").evaluate_all(hrefs) == [
        ["604 555 0199", "tel:6045550199"],
        ["604-555-0100", "tel:6045550100"],
    ]


# ---- reopening ------------------------------------------------------------------


def test_a_reload_reopens_the_chat_at_the_latest_message(page, stack):
    # The stylesheet arrives late, as on a slow network: the widget is
    # hidden until then, so it cannot scroll before it is shown.
    def slow_stylesheet(route) -> None:
        time.sleep(0.6)
        route.continue_()

    page.route("**/widget/ims-chat.css", slow_stylesheet)
    page.goto(stack.web)
    open_widget(page)
    key = f"ims-chat:{stack.rasa}:history"
    now = int(time.time() * 1000)
    history = [
        {
            "who": "user" if i % 2 else "bot",
            "n": i + 1,
            "time": now + i,
            "text": f"Message number {i + 1}, long enough to take a line or two.",
        }
        for i in range(40)
    ]
    page.evaluate(
        "([key, value]) => localStorage.setItem(key, value)", [key, json.dumps(history)]
    )
    page.reload()
    expect(page.get_by_role("dialog")).to_be_visible()
    last = log(page).locator("li").last
    expect(last).to_contain_text("Message number 40")
    expect(last).to_be_in_viewport()
    scroller = page.locator("#ims-chat-widget .scroller")
    gap = "s => [s.scrollHeight - s.clientHeight, s.scrollTop]"
    height, top = scroller.evaluate(gap)
    assert height > 1000  # the log really overflows
    assert top >= height - 2, (top, height)


# ---- accessibility ---------------------------------------------------------


def test_axe_finds_nothing_with_the_chat_open(page, stack, axe_violations):
    page.goto(stack.web)
    assert axe_violations(page) == []
    open_widget(page)
    wait_online(page)
    ask(page, "how often do I need IMS")
    expect(log(page).get_by_role("button", name="How many sessions?")).to_be_visible()
    ask(page, "I have chest pain right now")
    expect(urgent_messages(page).first).to_be_visible()
    ask(page, "what is IMS?")  # the reminder, then an answer with buttons
    expect(log(page).locator("li.bot").last.get_by_role("button").first).to_be_visible()
    expect(page.locator("#ims-chat-widget .typing")).to_be_hidden()
    assert axe_violations(page) == []


def test_axe_finds_nothing_on_a_phone_or_offline(chromium, stack, axe_violations):
    context = chromium.new_context(viewport={"width": 360, "height": 640})
    page = context.new_page()
    try:
        clinic_page(page, stack, f"http://127.0.0.1:{free_port()}")  # Rasa down
        open_widget(page)
        alert = page.get_by_role("dialog").get_by_role("alert")
        expect(alert).to_contain_text("can't connect right now")
        link = alert.get_by_role("link", name=PROFILE.emergency_number, exact=True)
        expect(link).to_have_attribute("href", tel(PROFILE.emergency_number))
        assert axe_violations(page) == []
    finally:
        context.close()


def test_keyboard_only(page, stack):
    page.goto(stack.web)
    launcher = page.get_by_role("button", name=LAUNCHER)
    for _ in range(30):
        page.keyboard.press("Tab")
        if launcher.evaluate("b => b.getRootNode().activeElement === b"):
            break
    else:
        pytest.fail("Tab never reached the chat bubble")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Enter")
    field = page.get_by_label("Your message")
    expect(field).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    wait_online(page)
    page.keyboard.type("how often do I need IMS")
    page.keyboard.press("Enter")
    expect(answers(page).last).to_contain_text("once a week")

    # Shift+Tab back from the input to the answer's last quick reply.
    quick = log(page).get_by_role("button", name="How long is a session?")
    for _ in range(10):
        page.keyboard.press("Shift+Tab")
        if quick.evaluate("b => b.getRootNode().activeElement === b"):
            break
    else:
        pytest.fail("Shift+Tab never reached the quick replies")
    page.keyboard.press("Space")
    expect(user_messages(page).last).to_have_text(re.compile("How long is a session"))
    expect(field).to_be_focused()  # not lost with the removed buttons

    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(launcher).to_be_focused()
    page.keyboard.press("Space")
    expect(field).to_be_focused()


def test_usable_on_a_360_px_phone(chromium, stack):
    context = chromium.new_context(
        viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto(stack.web)
        launcher = page.get_by_role("button", name=LAUNCHER)
        box = launcher.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360
        launcher.tap()
        panel = page.get_by_role("dialog")
        expect(panel).to_be_visible()
        # Full screen: the panel covers the page, the bubble steps aside.
        assert panel.bounding_box() == {"x": 0, "y": 0, "width": 360, "height": 640}
        expect(launcher).to_be_hidden()
        wait_online(page)
        ask(page, "how often do I need IMS " + "and what about this long word " * 3)
        # The answer and "Did that answer your question?"
        expect(log(page).locator("li.bot")).to_have_count(2)
        for control in (
            page.get_by_label("Your message"),
            page.get_by_role("button", name="Send"),
        ):
            box = control.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 360, box
            assert box["y"] + box["height"] <= 640, box
        scroller = page.locator("#ims-chat-widget .scroller")
        assert scroller.evaluate("s => s.scrollWidth <= s.clientWidth")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        # The page behind is covered: Tab goes round inside the panel.
        inside = "() => document.activeElement?.id === 'ims-chat-widget'"
        for _ in range(12):
            page.keyboard.press("Tab")
            assert page.evaluate(inside)
        for _ in range(12):
            page.keyboard.press("Shift+Tab")
            assert page.evaluate(inside)
        page.get_by_role("button", name="Close chat").tap()
        expect(launcher).to_be_visible()
    finally:
        context.close()


CONTRAST = """
(elements) => {
  const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let node = el; node; node = node.parentElement || node.getRootNode().host) {
      const c = getComputedStyle(node).backgroundColor;
      if (c && rgb(c)[3] !== 0 && c !== "transparent") return rgb(c);
    }
    return [255, 255, 255];
  };
  return elements.map((el) => {
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    return [el.className || el.tagName, ratio];
  });
}
"""


@pytest.mark.parametrize("colour", [None, "#ffd54f", "rebeccapurple"])
def test_text_has_aa_contrast(page, stack, colour):
    clinic_page(page, stack, stack.rasa, **{"primary-color": colour})
    open_widget(page)
    wait_online(page)
    ask(page, "how often do I need IMS")
    expect(answers(page).last).to_contain_text("once a week")
    widget = page.locator("#ims-chat-widget")
    selectors = (
        ".launcher, .title, .new-chat, .notice, .notice a, .bubble, .time,"
        " .quick-reply, .human, .send, .input"
    )
    ratios = widget.locator(selectors).evaluate_all(CONTRAST)
    assert len(ratios) >= 12
    low = [(name, round(ratio, 2)) for name, ratio in ratios if ratio < 4.5]
    assert not low, low
