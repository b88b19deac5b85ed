/*!
 * IMS clinic chat widget. One tag embeds it on any page:
 *
 *   <script src="https://assistant.example.org/static/widget/ims-chat.js"
 *     data-server-url="https://assistant.example.org:5005"
 *     data-title="Sample Clinic" data-clinic-phone="+1 604 555 0123"
 *     data-privacy-url="https://clinic.example.org/privacy"></script>
 *
 * It loads the socket.io client and its stylesheet from beside itself and
 * talks to Rasa's socket.io channel. Every message is built from DOM nodes
 * and textContent, never parsed as HTML; links are only http(s), tel and
 * mailto. Phone numbers in messages are tap-to-call links, and urgent-care
 * replies (marked `metadata.urgent` by channels/socketio_channel.py) are
 * shown and labelled as urgent.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.imsChatWidget) {
    return; // one widget per page
  }

  var HISTORY_LIMIT = 200; // messages kept in the browser
  var HISTORY_MAX_AGE = 24 * 60 * 60 * 1000; // idle time before a fresh chat
  var TYPING_TIMEOUT = 30000; // hide the typing dots if no reply comes
  var SAFE_PROTOCOLS = ["http:", "https:", "mailto:", "tel:"];
  var TALK_TO_A_PERSON = "/request_human"; // the intent that starts a call back

  var config = readConfig(script);
  var tabId = randomId(); // which tab sent a message (see onBotMessage)
  var store = storage(config.storageKey);
  var state = "idle"; // idle | connecting | online | offline
  var socket = null;
  var queued = null; // a message waiting for the connection
  var typingTimer = null;
  var drawnSession = null; // the conversation the log shows
  var drawnSeq = 0; // the last history entry (`n`) the log shows

  expireOldHistory();

  // ---- Configuration --------------------------------------------------

  function readConfig(tag) {
    var data = tag.dataset;
    var server = parseUrl(data.serverUrl || location.protocol + "//" +
      location.hostname + ":5005");
    if (!server || !/^https?:$/.test(server.protocol)) {
      server = parseUrl("http://localhost:5005");
    }
    var path = server.pathname.replace(/\/+$/, "");
    return {
      serverOrigin: server.origin,
      socketPath: data.socketPath || path + "/socket.io",
      title: data.title || "Chat with us",
      greeting: data.greeting ||
        "Hi! I can answer general questions about IMS (Intramuscular Stimulation).",
      phone: (data.clinicPhone || "").trim(),
      privacyUrl: safeHref(data.privacyUrl || ""),
      emergency: (data.emergencyNumber || "911").trim(),
      color: data.primaryColor || "",
      socketIoSrc: data.socketioSrc || new URL("socket.io.min.js", tag.src).href,
      stylesheet: new URL("ims-chat.css", tag.src).href,
      storageKey: "ims-chat:" + server.origin + path
    };
  }

  function parseUrl(value) {
    try {
      return new URL(value, location.href);
    } catch (error) {
      return null;
    }
  }

  function safeHref(value) {
    var url = parseUrl(String(value).trim());
    return url && SAFE_PROTOCOLS.indexOf(url.protocol) >= 0 ? url.href : null;
  }

  function randomId() {
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return (b + 256).toString(16).slice(1);
    }).join("");
  }

  // ---- Storage: shared by every tab of the site (localStorage) --------

  function storage(prefix) {
    var memory = {};
    function backend(kind) {
      try {
        var s = window[kind];
        s.setItem(prefix + ":probe", "1");
        s.removeItem(prefix + ":probe");
        return s;
      } catch (error) {
        return null; // storage blocked: keep the chat for this page only
      }
    }
    var local = backend("localStorage");
    var session = backend("sessionStorage");
    function get(s, key) {
      return s ? s.getItem(prefix + ":" + key) : memory[key] || null;
    }
    function set(s, key, value) {
      try {
        if (!s) {
          memory[key] = value;
        } else if (value === null) {
          s.removeItem(prefix + ":" + key);
        } else {
          s.setItem(prefix + ":" + key, value);
        }
      } catch (error) {
        memory[key] = value; // quota exceeded
      }
    }
    return {
      prefix: prefix,
      get: function (key) { return get(local, key); },
      set: function (key, value) { set(local, key, value); },
      getTab: function (key) { return get(session, key); },
      setTab: function (key, value) { set(session, key, value); }
    };
  }

  // The session token the server signed and gave us ("" before the first
  // session_confirm): the server issues ids, it never takes one we invent.
  function sessionId() {
    var id = store.get("session");
    return id && /^[\w.:-]{1,128}$/.test(id) ? id : "";
  }

  function loadHistory() {
    try {
      var list = JSON.parse(store.get("history") || "[]");
      return Array.isArray(list) ? list.filter(isEntry) : [];
    } catch (error) {
      return [];
    }
  }

  function isEntry(entry) {
    return entry && (entry.who === "user" || entry.who === "bot") &&
      typeof entry.text === "string" && typeof entry.time === "number" &&
      typeof entry.n === "number";
  }

  function saveHistory(list) {
    store.set("history", JSON.stringify(list.slice(-HISTORY_LIMIT)));
  }

  function expireOldHistory() {
    var list = loadHistory();
    var last = list.length ? list[list.length - 1].time : 0;
    if (last && Date.now() - last > HISTORY_MAX_AGE) {
      store.set("history", null);
      store.set("session", null);
    }
  }

  // ---- DOM helpers ------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function button(className, text, label) {
    var node = el("button", className, text);
    node.type = "button";
    if (label) {
      node.setAttribute("aria-label", label);
    }
    return node;
  }

  function link(label, href) {
    var a = el("a", "", label);
    a.href = href;
    if (/^https?:/.test(href)) {
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      a.appendChild(el("span", "sr-only", " (opens in a new tab)"));
    }
    return a;
  }

  function telHref(phone) {
    var digits = phone.replace(/[^\d+]/g, "");
    return digits.replace(/\+/g, "").length >= 3 ? "tel:" + digits : null;
  }

  // Markdown links [text](url), bare URLs, email addresses, phone numbers
  // (10 to 15 digits), and short numbers to call or text ("call 911", "call
  // or text 988", "text 686868"): the clinic profile's numbers, whatever
  // they are, reach the widget only inside the replies' text.
  var LINKS = new RegExp([
    "\\[([^\\]\\n]{1,200})\\]\\(([^)\\s]{1,2000})\\)",
    "(https?:\\/\\/[^\\s<>\"']+)",
    "([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,})",
    "(\\+?\\d[\\d ().-]{7,18}\\d)",
    "\\b((?:call|text|dial)(?: or (?:call|text))? )(\\d{3,6})(?!\\d|[ .-]\\d)"
  ].join("|"), "gi");

  // Appends `text` to `parent` as text nodes and safe anchors only.
  function appendRichText(parent, text) {
    var last = 0;
    var match;
    LINKS.lastIndex = 0;
    while ((match = LINKS.exec(text)) !== null) {
      var whole = match[0];
      var start = match.index; // where the link begins
      var label = whole;
      var href = null;
      if (match[1] !== undefined) {
        label = match[1];
        href = safeHref(match[2]);
        if (!href) {
          label = whole; // unsafe target: show the source as text
        }
      } else if (match[3] !== undefined) {
        var trailing = /[.,;:!?)\]]+$/.exec(whole);
        if (trailing) {
          whole = whole.slice(0, -trailing[0].length);
          label = whole;
        }
        href = safeHref(whole);
      } else if (match[4] !== undefined) {
        href = "mailto:" + whole;
      } else if (match[7] !== undefined) {
        start += match[6].length; // "call ": text; the number: the link
        whole = label = match[7];
        href = "tel:" + whole;
      } else {
        var digits = whole.replace(/\D/g, "").length;
        href = digits >= 10 && digits <= 15 ? telHref(whole) : null;
      }
      parent.appendChild(document.createTextNode(text.slice(last, start)));
      parent.appendChild(href ? link(label, href) : document.createTextNode(whole));
      last = start + whole.length;
      LINKS.lastIndex = last;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function formatTime(time) {
    var date = new Date(time);
    var options = { hour: "numeric", minute: "2-digit" };
    if (date.toDateString() !== new Date().toDateString()) {
      options.month = "short";
      options.day = "numeric";
    }
    return date.toLocaleString([], options);
  }

  // ---- Colours: readable text on the clinic's colour (WCAG AA) ---------

  function luminance(rgb) {
    var c = rgb.map(function (v) {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  }

  function contrast(a, b) {
    var la = luminance(a);
    var lb = luminance(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }

  function applyColour(host, value) {
    if (!value || !window.CSS || !CSS.supports("color", value)) {
      return;
    }
    var probe = el("span");
    probe.style.color = value;
    probe.style.display = "none";
    document.body.appendChild(probe);
    var parts = getComputedStyle(probe).color.match(/\d+(\.\d+)?/g);
    document.body.removeChild(probe);
    if (!parts || parts.length < 3) {
      return;
    }
    var rgb = parts.slice(0, 3).map(Number);
    var white = [255, 255, 255];
    var dark = [17, 24, 28];
    var colour = "rgb(" + rgb.join(", ") + ")";
    host.style.setProperty("--ims-primary", colour);
    host.style.setProperty("--ims-on-primary",
      contrast(rgb, white) >= contrast(rgb, dark) ? "#ffffff" : "#11181c");
    // Text and borders in the clinic's colour on white need 4.5:1 too.
    host.style.setProperty("--ims-primary-text",
      contrast(rgb, white) >= 4.5 ? colour : "#11181c");
  }

  function svgIcon(className, d) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", className);
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    svg.appendChild(path);
    return svg;
  }

  // A warning sign: a triangle with an exclamation mark cut out.
  function urgentIcon() {
    return svgIcon("urgent-icon", "M12 2 1 21h22L12 2zm-1 7h2v6h-2V9zm0 8h2v2h-2v-2z");
  }

  function chatIcon() {
    return svgIcon("launcher-icon", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 " +
      "2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
  }

  // ---- The widget --------------------------------------------------------

  var host = el("div");
  host.id = "ims-chat-widget";
  host.style.display = "none"; // until the stylesheet has loaded
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var sheet = el("link");
  sheet.rel = "stylesheet";
  sheet.href = config.stylesheet;
  sheet.onload = sheet.onerror = function () {
    host.style.display = "";
    scrollToEnd(); // the log had no size while the widget was hidden
  };
  root.appendChild(sheet);

  var frame = el("div", "ims-root");
  var launcher = button("launcher", "", "Chat with " + config.title);
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "ims-panel");
  launcher.appendChild(chatIcon());
  launcher.appendChild(el("span", "launcher-text", "Chat"));

  var panel = el("section", "panel");
  panel.id = "ims-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-labelledby", "ims-title");

  var header = el("div", "header"); // not <header>: no second banner landmark
  var title = el("h2", "title", config.title);
  title.id = "ims-title";
  var newChat = button("text-button new-chat", "New chat",
    "New chat: clear this conversation");
  var closer = button("close", "", "Close chat");
  closer.appendChild(el("span", "close-icon")).setAttribute("aria-hidden", "true");
  header.appendChild(title);
  header.appendChild(newChat);
  header.appendChild(closer);

  var alertBox = el("div", "status");
  alertBox.setAttribute("role", "alert");

  var scroller = el("div", "scroller");
  var notice = el("p", "notice");
  notice.appendChild(el("strong", "", "You are chatting with an automated assistant. "));
  notice.appendChild(document.createTextNode(
    "It gives general information only, not medical advice. "));
  if (config.privacyUrl) {
    notice.appendChild(link("Privacy notice", config.privacyUrl));
    notice.appendChild(document.createTextNode(". "));
  }
  notice.appendChild(document.createTextNode("In an emergency, call "));
  var emergencyHref = telHref(config.emergency);
  notice.appendChild(emergencyHref ? link(config.emergency, emergencyHref)
    : document.createTextNode(config.emergency));
  notice.appendChild(document.createTextNode("."));

  var greeting = el("div", "msg bot greeting");
  appendRichText(greeting.appendChild(el("div", "bubble")), config.greeting);

  // The live region holds the list of messages: an <ol> given role=log
  // would no longer be a list, and its <li> items would be orphans.
  var logRegion = el("div", "log-region");
  logRegion.setAttribute("role", "log");
  logRegion.setAttribute("aria-live", "polite");
  logRegion.setAttribute("aria-label", "Conversation");
  var log = logRegion.appendChild(el("ol", "log"));

  var typing = el("div", "typing");
  typing.hidden = true;
  typing.setAttribute("role", "status");
  var dots = el("span", "dots");
  dots.setAttribute("aria-hidden", "true");
  dots.appendChild(el("span"));
  dots.appendChild(el("span"));
  dots.appendChild(el("span"));
  typing.appendChild(dots);
  typing.appendChild(el("span", "sr-only", "The assistant is typing"));

  scroller.appendChild(notice);
  scroller.appendChild(greeting);
  scroller.appendChild(logRegion);
  scroller.appendChild(typing);

  var actions = el("div", "actions");
  var human = button("text-button human", "Talk to a person");
  actions.appendChild(human);

  var form = el("form", "composer");
  var label = el("label", "sr-only", "Your message");
  label.htmlFor = "ims-input";
  var input = el("input", "input");
  input.id = "ims-input";
  input.type = "text";
  input.maxLength = 1000;
  input.autocomplete = "off";
  input.placeholder = "Type your question";
  input.setAttribute("enterkeyhint", "send");
  var send = el("button", "send", "Send");
  send.type = "submit";
  form.appendChild(label);
  form.appendChild(input);
  form.appendChild(send);

  panel.appendChild(header);
  panel.appendChild(alertBox);
  panel.appendChild(scroller);
  panel.appendChild(actions);
  panel.appendChild(form);
  frame.appendChild(launcher);
  frame.appendChild(panel);
  root.appendChild(frame);

  // ---- Rendering -----------------------------------------------------------

  function renderEntry(entry, showButtons) {
    var urgent = entry.who === "bot" && entry.urgent === true;
    var item = el("li", "msg " + entry.who + (urgent ? " urgent" : ""));
    item.appendChild(el("span", "sr-only", entry.who === "user" ? "You: " : "Assistant: "));
    if (urgent) {
      // Said in words and shown by a sign, not by colour alone.
      var tag = item.appendChild(el("strong", "urgent-label"));
      tag.appendChild(urgentIcon());
      tag.appendChild(el("span", "", "Urgent"));
      tag.appendChild(el("span", "sr-only", ": "));
    }
    var bubble = item.appendChild(el("div", "bubble"));
    appendRichText(bubble, entry.text);
    var image = entry.image && safeHref(entry.image);
    if (image && /^https?:/.test(image)) {
      var img = el("img", "image");
      img.src = image;
      img.alt = "Image from the assistant";
      bubble.appendChild(img);
    }
    var time = item.appendChild(el("time", "time", formatTime(entry.time)));
    time.dateTime = new Date(entry.time).toISOString();
    if (showButtons && Array.isArray(entry.buttons) && entry.buttons.length) {
      var group = item.appendChild(el("div", "quick-replies"));
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", "Suggested replies");
      entry.buttons.forEach(function (b) {
        if (b && typeof b.title === "string" && typeof b.payload === "string") {
          var choice = group.appendChild(button("quick-reply", b.title));
          choice.addEventListener("click", function () {
            submit(b.payload, b.title);
          });
        }
      });
    }
    return item;
  }

  // Draws the history entries not shown yet (all of them after a new chat);
  // quick replies only on the bot's messages since the person last wrote.
  function draw() {
    var list = loadHistory();
    var session = sessionId();
    var last = list[list.length - 1];
    if (session !== drawnSession || (last ? last.n : 0) < drawnSeq) {
      while (log.firstChild) {
        log.removeChild(log.firstChild);
      }
      drawnSession = session;
      drawnSeq = 0;
    }
    var lastUser = 0;
    list.forEach(function (entry) {
      if (entry.who === "user") {
        lastUser = entry.n;
      }
    });
    if (lastUser > drawnSeq) {
      removeQuickReplies();
    }
    list.forEach(function (entry) {
      if (entry.n > drawnSeq) {
        log.appendChild(renderEntry(entry, entry.n > lastUser));
      }
    });
    drawnSeq = last ? last.n : 0;
    setTyping(Boolean(last && last.who === "user" && Date.now() - last.time < TYPING_TIMEOUT));
    scrollToEnd();
  }

  function removeQuickReplies() {
    var groups = log.querySelectorAll(".quick-replies");
    var hadFocus = false;
    Array.prototype.forEach.call(groups, function (group) {
      hadFocus = hadFocus || group.contains(root.activeElement || document.activeElement);
      group.parentNode.removeChild(group);
    });
    if (hadFocus) {
      input.focus();
    }
  }

  function scrollToEnd() {
    scroller.scrollTop = scroller.scrollHeight;
  }

  function setTyping(on) {
    clearTimeout(typingTimer);
    typing.hidden = !on;
    if (on) {
      typingTimer = setTimeout(function () { typing.hidden = true; }, TYPING_TIMEOUT);
      scrollToEnd();
    }
  }

  function record(entry) {
    var list = loadHistory();
    entry.n = list.length ? list[list.length - 1].n + 1 : 1;
    list.push(entry);
    saveHistory(list);
    draw();
  }

  function showAlert(text) {
    while (alertBox.firstChild) {
      alertBox.removeChild(alertBox.firstChild);
    }
    if (text) {
      alertBox.appendChild(el("p", "", text));
    }
  }

  function showOffline() {
    while (alertBox.firstChild) {
      alertBox.removeChild(alertBox.firstChild);
    }
    var p = el("p", "");
    p.appendChild(document.createTextNode("Sorry, we can't connect right now. "));
    var tel = config.phone && telHref(config.phone);
    if (tel) {
      p.appendChild(document.createTextNode("Please call us at "));
      p.appendChild(link(config.phone, tel));
      p.appendChild(document.createTextNode(". "));
    } else {
      p.appendChild(document.createTextNode("Please try again later. "));
    }
    appendRichText(p, "In an emergency, call " + config.emergency + ".");
    alertBox.appendChild(p);
  }

  function setState(next) {
    if (next === state) {
      return; // reconnection attempts repeat; say it once
    }
    state = next;
    panel.setAttribute("data-state", next);
    if (next === "offline") {
      queued = null;
      setTyping(false);
      showOffline();
    } else if (next === "online") {
      showAlert("");
      if (queued) {
        var message = queued;
        queued = null;
        submit(message.payload, message.shown, message.fromInput);
      }
    }
  }

  // ---- Talking to Rasa -----------------------------------------------------

  // Loads the socket.io client without disturbing a page's own `io`.
  var ioLib = null;
  function loadSocketIo(done) {
    if (ioLib) {
      done(ioLib);
      return;
    }
    var had = Object.prototype.hasOwnProperty.call(window, "io");
    var previous = window.io;
    var tag = el("script");
    tag.src = config.socketIoSrc;
    tag.async = true;
    tag.onload = function () {
      ioLib = typeof window.io === "function" ? window.io : null;
      if (had) {
        window.io = previous;
      } else {
        try {
          delete window.io;
        } catch (error) {
          window.io = undefined;
        }
      }
      done(ioLib);
    };
    tag.onerror = function () {
      done(null);
    };
    document.head.appendChild(tag);
  }

  function connect() {
    if (state !== "idle") {
      return;
    }
    setState("connecting");
    loadSocketIo(function (io) {
      if (!io) {
        setState("offline");
        state = "idle"; // try loading the client again on the next message
        return;
      }
      socket = io(config.serverOrigin, {
        path: config.socketPath,
        reconnectionDelayMax: 10000,
        timeout: 10000
      });
      socket.on("connect", function () {
        socket.emit("session_request", { session_id: sessionId() });
      });
      socket.on("session_confirm", function (confirmed) {
        // The server's signed token: a new one when ours was not its own.
        if (typeof confirmed === "string" && confirmed && confirmed !== sessionId()) {
          store.set("session", confirmed);
          draw();
        }
        setState("online");
      });
      socket.on("connect_error", function () {
        setState("offline");
      });
      socket.on("disconnect", function () {
        setState("offline");
      });
      socket.on("bot_uttered", onBotMessage);
    });
  }

  function onBotMessage(message) {
    if (!message || typeof message !== "object") {
      return;
    }
    var text = typeof message.text === "string" ? message.text : "";
    var buttons = [].concat(message.quick_replies || message.buttons || [])
      .filter(function (b) {
        return b && typeof b.title === "string" && typeof b.payload === "string";
      })
      .map(function (b) { return { title: b.title, payload: b.payload }; });
    var attachment = message.attachment;
    var image = attachment && attachment.type === "image" && attachment.payload &&
      typeof attachment.payload.src === "string" ? attachment.payload.src : null;
    if (!text && !buttons.length && !image) {
      return;
    }
    setTyping(false);
    // Every tab of this conversation gets the reply; the tab that asked
    // stores it, and the others draw it from the storage event.
    var list = loadHistory();
    for (var i = list.length - 1; i >= 0; i--) {
      if (list[i].who === "user") {
        if (list[i].tab !== tabId) {
          return;
        }
        break;
      }
    }
    var entry = { who: "bot", text: text, time: Date.now() };
    if (message.metadata && message.metadata.urgent === true) {
      entry.urgent = true;
    }
    if (buttons.length) {
      entry.buttons = buttons;
    }
    if (image) {
      entry.image = image;
    }
    record(entry);
  }

  // Sends `payload` to the assistant, showing `shown` as the person's words.
  function submit(payload, shown, fromInput) {
    if (state !== "online") {
      if (state === "offline") {
        showOffline();
      } else {
        queued = { payload: payload, shown: shown, fromInput: fromInput };
        showAlert("Connecting...");
        connect();
      }
      return;
    }
    if (fromInput) {
      input.value = "";
    }
    record({ who: "user", text: shown, time: Date.now(), tab: tabId });
    socket.emit("user_uttered", { message: payload, session_id: sessionId() });
    setTyping(true);
  }

  // ---- Opening, closing, keys ----------------------------------------------

  function isOpen() {
    return !panel.hidden;
  }

  function open(keepFocus) {
    panel.hidden = false;
    frame.classList.add("open");
    launcher.setAttribute("aria-expanded", "true");
    store.setTab("open", "1");
    connect();
    draw();
    if (!keepFocus) {
      input.focus();
    }
  }

  function close() {
    panel.hidden = true;
    frame.classList.remove("open");
    launcher.setAttribute("aria-expanded", "false");
    store.setTab("open", null);
    launcher.focus();
  }

  launcher.addEventListener("click", function () {
    if (isOpen()) {
      close();
    } else {
      open(false);
    }
  });
  closer.addEventListener("click", close);
  human.addEventListener("click", function () {
    submit(TALK_TO_A_PERSON, "Talk to a person");
  });
  newChat.addEventListener("click", function () {
    if (!window.confirm("Start a new chat? This clears the conversation on this device.")) {
      return;
    }
    store.set("history", null);
    store.set("session", null);
    draw();
    if (socket && socket.connected) {
      socket.emit("session_request", { session_id: sessionId() });
    }
    input.focus();
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (text) {
      submit(text, text, true);
    }
  });
  frame.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && isOpen()) {
      event.preventDefault();
      close();
    } else if (event.key === "Tab" && isOpen() && isFullScreen()) {
      keepFocusInPanel(event);
    }
  });

  function isFullScreen() {
    return window.matchMedia && window.matchMedia("(max-width: 480px)").matches;
  }

  // On a phone the panel covers the page: Tab cycles inside it.
  function keepFocusInPanel(event) {
    var focusable = Array.prototype.filter.call(
      panel.querySelectorAll("a[href], button:not([disabled]), input"),
      function (node) { return node.offsetParent !== null; });
    if (!focusable.length) {
      return;
    }
    var first = focusable[0];
    var last = focusable[focusable.length - 1];
    var active = root.activeElement || document.activeElement;
    if (event.shiftKey && active === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && active === last) {
      event.preventDefault();
      first.focus();
    }
  }

  // Another tab wrote to the conversation, or started a new one.
  window.addEventListener("storage", function (event) {
    if (event.key === store.prefix + ":history") {
      draw();
    } else if (event.key === store.prefix + ":session" && socket && socket.connected) {
      socket.emit("session_request", { session_id: sessionId() });
    }
  });

  function mount() {
    document.body.appendChild(host);
    applyColour(host, config.color);
    draw();
    if (store.getTab("open")) {
      open(true); // reopened after a reload: leave the focus where it is
    } else if (loadHistory().length) {
      connect(); // hear replies to questions asked in other tabs
    }
  }

  window.imsChatWidget = {
    open: function () { open(false); },
    close: close
  };
  if (document.body) {
    mount();
  } else {
    document.addEventListener("DOMContentLoaded", mount);
  }
})();
