// Minimal chat box for the demo page: talks to Rasa's REST channel.
// Bot text is inserted with textContent, never as HTML.
(function () {
  "use strict";
  var chat = document.getElementById("chat");
  var log = document.getElementById("chat-log");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-input");
  var rasaUrl = chat.dataset.rasaUrl;
  var key = "ims-chat-sender";
  var sender = localStorage.getItem(key);
  if (!sender) {
    sender = "web-" + Math.random().toString(36).slice(2) + Date.now().toString(36);
    localStorage.setItem(key, sender);
  }

  function add(who, text, buttons) {
    var item = document.createElement("li");
    item.className = who;
    item.textContent = text || "";
    (buttons || []).forEach(function (b) {
      var btn = document.createElement("button");
      btn.type = "button";
      btn.textContent = b.title;
      btn.addEventListener("click", function () { send(b.payload, b.title); });
      item.appendChild(document.createElement("br"));
      item.appendChild(btn);
    });
    log.appendChild(item);
    item.scrollIntoView({ block: "end" });
  }

  function send(message, shown) {
    add("user", shown || message);
    fetch(rasaUrl + "/webhooks/rest/webhook", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: sender, message: message })
    })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (replies) {
        replies.forEach(function (m) { add("bot", m.text, m.buttons); });
      })
      .catch(function () {
        add("bot", "Sorry, I can't connect right now. Please call us at " +
          chat.dataset.clinicPhone + ".");
      });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (text) { send(text); input.value = ""; }
  });
})();
