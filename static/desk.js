/* The editor desk: compose with a live preview and uploads, the live stream that feeds the
 * post list (desk-posts.js), and the reader count. No inline code (strict CSP): everything
 * it needs comes from data attributes and the JSON block #desk-messages. HTML from the
 * server is already sanitized; every other text goes in as text. */
(function () {
  "use strict";

  const root = document.getElementById("desk");
  if (!root) return;
  const cfg = root.dataset;
  const M = JSON.parse(document.getElementById("desk-messages").textContent);
  const CSRF = document.querySelector('meta[name="csrf-token"]').content;
  let lastSeq = 0;

  const fmt = (text, vars) => text.replace(/%\((\w+)\)s/g, (_, k) => String(vars[k]));

  function h(tag, props, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key === "on") for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children || []) if (child) node.append(child);
    return node;
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({
      "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
    })[c]);
  }

  // -- talking to the server ---------------------------------------------------------

  async function call(method, url, body, isForm) {
    const headers = { "X-CSRFToken": CSRF, Accept: "application/json" };
    let payload;
    if (body !== undefined) {
      if (isForm) payload = body;
      else {
        headers["Content-Type"] = "application/json";
        payload = JSON.stringify(body);
      }
    }
    let response;
    try {
      response = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
    } catch (e) {
      throw { status: 0, code: "network", message: M.network, details: {} };
    }
    if (response.status === 204) return null;
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      const error = (data && data.error) || {};
      throw { status: response.status, code: error.code || "error",
        message: error.message || M.error, details: error };
    }
    return data;
  }

  // -- compose, preview, upload --------------------------------------------------------

  const form = document.getElementById("compose");
  const bodyInput = document.getElementById("body");
  const statusLine = document.getElementById("compose-status");
  const preview = document.getElementById("preview");
  const formatInput = document.getElementById("format");
  const toolbar = document.getElementById("toolbar");
  let publishing = false;

  function flashStatus(text, kind) {
    statusLine.textContent = text;
    statusLine.className = "compose-status " + (kind || "");
  }

  const USERS = JSON.parse(document.getElementById("desk-users").textContent);
  const posts = window.DeskPosts({ M, cfg, h, fmt, call, notify: flashStatus, users: USERS });
  const upsert = posts.upsert;
  const remove = posts.remove;

  function showPreview(html) {
    const content = html || '<p class="muted">' + escapeHtml(M.empty_preview) + "</p>";
    preview.srcdoc = '<!doctype html><html lang="' + escapeHtml(cfg.locale) + '"><head>' +
      '<meta charset="utf-8"><title>' + escapeHtml(preview.title) + '</title>' +
      '<link rel="stylesheet" href="' + escapeHtml(cfg.cssUrl) + '">' +
      '<link rel="stylesheet" href="' + escapeHtml(cfg.embedsCssUrl) + '">' +
      '<link rel="stylesheet" href="' + escapeHtml(cfg.deskCssUrl) + '">' +
      '</head><body class="preview-doc"><main class="post-body">' + content + "</main></body></html>";
  }

  let previewTimer = null;
  let previewAsked = 0;
  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(async () => {
      const asked = ++previewAsked;
      try {
        const data = await call("POST", cfg.previewUrl, { body: bodyInput.value, format: formatInput.value });
        if (asked === previewAsked) showPreview(data.html); // sanitized by the server
      } catch (err) {
        if (asked === previewAsked) flashStatus(err.message, "error");
      }
    }, 250);
  }

  // The post request the composer holds (a contributor's form has no verification fields).
  function composed() {
    const payload = { body: bodyInput.value, format: formatInput.value };
    if (form.headline) payload.headline = form.headline.value;
    if (form.coauthors) payload.coauthors = [...form.coauthors.selectedOptions].map((o) => o.value);
    if (form.verification) {
      payload.verification = { status: form.verification.value, note: form.note.value };
    }
    if (form.key_event) payload.key_event = form.key_event.checked;
    if (form.pinned && form.pinned.checked) payload.pinned = true;
    if (form.resolves && form.resolves.value) payload.resolves = form.resolves.value;
    return payload;
  }

  function clearCompose() {
    const chosen = formatInput.value;
    form.reset();
    formatInput.value = chosen; // the reporter's choice stays
    showPreview("");
  }

  const drafts = window.DeskDrafts({
    M, cfg, h, fmt, call, notify: flashStatus, form, bodyInput, formatInput,
    composed, clearCompose, schedulePreview, upsert: (post) => upsert(post),
  });

  async function publish() {
    if (publishing) return;
    if (!bodyInput.value.trim()) { bodyInput.focus(); return; }
    publishing = true;
    flashStatus(M.publishing);
    try {
      if (cfg.role === "contributor" || drafts.isOpen()) {
        await drafts.publishOpen(); // submit for approval, or publish the open draft
      } else {
        upsert(await call("POST", cfg.postsUrl, composed()));
        clearCompose();
        flashStatus(M.published, "ok");
      }
      bodyInput.focus();
    } catch (err) {
      flashStatus(err.message, "error");
    } finally {
      publishing = false;
    }
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); publish(); });
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      publish();
    }
  });
  bodyInput.addEventListener("input", schedulePreview);

  // -- the format and its formatting buttons ----------------------------------------------

  const FORMAT_KEY = "liveblog.desk.format";
  try {
    const saved = localStorage.getItem(FORMAT_KEY);
    if (saved && [...formatInput.options].some((o) => o.value === saved)) formatInput.value = saved;
  } catch (e) { /* storage may be off */ }

  function syncFormat() {
    toolbar.hidden = formatInput.value === "text"; // plain text has no markup to insert
    try { localStorage.setItem(FORMAT_KEY, formatInput.value); } catch (e) { /* ignore */ }
  }
  formatInput.addEventListener("change", () => { syncFormat(); schedulePreview(); });
  syncFormat();

  // Each action wraps the selection (or a placeholder word) in Markdown or HTML.
  const MARKS = {
    markdown: {
      bold: ["**", "**"], italic: ["_", "_"], link: ["[", "](https://)"],
      quote: { line: "> " }, list: { line: "- " },
    },
    html: {
      bold: ["<strong>", "</strong>"], italic: ["<em>", "</em>"], link: ['<a href="https://">', "</a>"],
      quote: ["<blockquote><p>", "</p></blockquote>"], list: { items: true },
    },
  };

  function format(action) {
    const marks = MARKS[formatInput.value];
    if (!marks) return;
    const mark = marks[action];
    const start = bodyInput.selectionStart;
    const end = bodyInput.selectionEnd;
    const selected = bodyInput.value.slice(start, end) || M["sample_" + action] || "…";
    let text;
    let select = null; // [from, to] within `text` to select afterwards
    if (Array.isArray(mark)) {
      text = mark[0] + selected + mark[1];
      select = action === "link"
        ? [mark[0].length + selected.length + 2, text.length - 1]
        : [mark[0].length, mark[0].length + selected.length];
      if (action === "link" && formatInput.value === "html") select = [9, 17];
    } else if (mark.line) {
      text = selected.split("\n").map((line) => mark.line + line).join("\n");
      const before = bodyInput.value.slice(0, start);
      if (before && !before.endsWith("\n\n")) text = (before.endsWith("\n") ? "\n" : "\n\n") + text;
      select = [text.length - text.split("\n").pop().length + mark.line.length, text.length];
      // A quote ends with its attribution, "— who", which formats.py makes a <cite>.
      if (action === "quote") text += "\n>\n> — " + M.sample_source;
    } else {
      text = "<ul>" + selected.split("\n").map((line) => "<li>" + line + "</li>").join("") + "</ul>";
    }
    bodyInput.focus();
    bodyInput.setRangeText(text, start, end, "end");
    if (select) bodyInput.setSelectionRange(start + select[0], start + select[1]);
    schedulePreview();
  }

  // An image pasted or dropped into the text goes to the image block: it still needs its
  // alt text (and may get a caption and credit) before it is uploaded and inserted.
  function takeImage(file) {
    if (!file || !/^image\//.test(file.type)) return false;
    const input = document.getElementById("figure-file");
    const files = new DataTransfer();
    files.items.add(file);
    input.files = files.files;
    document.getElementById("figure-upload").open = true;
    document.getElementById("figure-alt").focus();
    flashStatus(M.image_ready);
    return true;
  }
  bodyInput.addEventListener("paste", (event) => {
    const file = event.clipboardData && event.clipboardData.files[0];
    if (takeImage(file)) event.preventDefault();
  });
  bodyInput.addEventListener("dragover", (event) => {
    if (event.dataTransfer && [...event.dataTransfer.types].includes("Files")) event.preventDefault();
  });
  bodyInput.addEventListener("drop", (event) => {
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (takeImage(file)) event.preventDefault();
  });

  toolbar.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (button) format(button.dataset.action);
  });

  const SHORTCUTS = { KeyB: "bold", KeyI: "italic", KeyK: "link", Digit9: "quote", Digit8: "list" };
  bodyInput.addEventListener("keydown", (event) => {
    if (!(event.ctrlKey || event.metaKey) || event.altKey || toolbar.hidden) return;
    const action = SHORTCUTS[event.code];
    const needsShift = action === "quote" || action === "list";
    if (!action || needsShift !== event.shiftKey) return;
    event.preventDefault();
    format(action);
  });

  function insertAtCursor(textarea, text) {
    const start = textarea.selectionStart ?? textarea.value.length;
    const end = textarea.selectionEnd ?? start;
    textarea.setRangeText(text, start, end, "end");
    textarea.focus();
  }

  // Markdown: an image alone in its paragraph, its title the caption and " — " the credit
  // (formats.py makes it a figure with a figcaption).
  function figureMarkdown(url, alt, caption, credit) {
    const clean = (text) => text.replace(/[\[\]"\n]/g, " ");
    const title = [caption, credit].filter(Boolean).map(clean).join(" — ");
    return "\n\n![" + clean(alt) + "](" + url + (title ? ' "' + title + '"' : "") + ")\n\n";
  }

  function figureHtml(url, alt, caption, credit) {
    let html = '<figure><img src="' + escapeHtml(url) + '" alt="' + escapeHtml(alt) + '">';
    if (caption || credit) {
      html += "<figcaption>" + escapeHtml(caption) +
        (credit ? (caption ? " " : "") + "<small>" + escapeHtml(credit) + "</small>" : "") +
        "</figcaption>";
    }
    return html + "</figure>";
  }

  document.getElementById("figure-insert").addEventListener("click", async () => {
    const fileInput = document.getElementById("figure-file");
    const file = fileInput.files && fileInput.files[0];
    if (!file) { fileInput.focus(); return; }
    const altInput = document.getElementById("figure-alt");
    if (!altInput.value.trim()) { flashStatus(M.alt_required, "error"); altInput.focus(); return; }
    if (formatInput.value === "text") { flashStatus(M.image_needs_markup, "error"); formatInput.focus(); return; }
    const data = new FormData();
    data.append("file", file);
    flashStatus(M.uploading);
    try {
      const stored = await call("POST", cfg.uploadUrl, data, true);
      const value = (name) => document.getElementById(name).value.trim();
      const build = formatInput.value === "markdown" ? figureMarkdown : figureHtml;
      insertAtCursor(bodyInput, build(stored.url, value("figure-alt"),
        value("figure-caption"), value("figure-credit")));
      for (const name of ["figure-file", "figure-alt", "figure-caption", "figure-credit"]) {
        document.getElementById(name).value = "";
      }
      document.getElementById("figure-upload").open = false;
      schedulePreview();
      flashStatus(M.upload_done, "ok");
    } catch (err) {
      flashStatus(err.message, "error");
    }
  });

  // -- the story's status ---------------------------------------------------------------

  function setStoryStatus(status) {
    const badgeNode = document.getElementById("story-status");
    badgeNode.className = "desk-status desk-status-" + status;
    badgeNode.textContent = status === "live" ? M.live : M.ended;
    document.getElementById("compose-ended").hidden = status === "live";
    document.getElementById("publish").disabled = status !== "live";
  }

  // -- the live stream, with reconnects -------------------------------------------------

  const connection = document.getElementById("connection");
  let socket = null;
  let attempts = 0;

  function setConnected(ok) {
    connection.textContent = ok ? M.connected : M.reconnecting;
    connection.className = "desk-connection " + (ok ? "ok" : "lost");
  }

  function applyEvent(event) {
    if (typeof event.seq !== "number" || event.seq <= lastSeq) return;
    lastSeq = event.seq;
    const redacted = event.post && event.post.redacted; // taken down since
    if ((event.type === "post.created" || event.type === "post.updated") && event.post && !redacted) {
      upsert({ ...event.post, editable: undefined });
    } else if (event.type === "post.deleted" && event.post) {
      remove(event.post.id);
    } else if (event.type === "story.updated" && event.values && event.values.status) {
      setStoryStatus(event.values.status);
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(scheme + "//" + location.host + cfg.livePath + "?after=" + lastSeq);
    socket.addEventListener("message", (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch (e) { return; }
      if (event.type === "hello") { attempts = 0; setConnected(true); return; }
      applyEvent(event);
    });
    socket.addEventListener("close", (event) => {
      socket = null;
      setConnected(false);
      if (event.code === 4205) { loadState(); return; } // too far behind: start over
      const ceiling = Math.min(30000, 1000 * 2 ** attempts);
      attempts += 1;
      setTimeout(connect, ceiling / 2 + Math.random() * ceiling / 2); // jittered backoff
    });
  }

  async function loadState() {
    try {
      const state = await call("GET", cfg.stateUrl);
      for (const id of posts.ids()) if (!state.posts.some((p) => p.id === id)) remove(id);
      lastSeq = state.last_seq;
      for (const post of state.posts.slice().reverse()) upsert(post);
      setStoryStatus(state.story.status);
      posts.placeholder();
      connect();
    } catch (err) {
      setConnected(false);
      flashStatus(err.message, "error");
      setTimeout(loadState, 3000 + Math.random() * 2000);
    }
  }

  // -- readers now ------------------------------------------------------------------------

  const readersNode = document.getElementById("readers");
  async function pollReaders() {
    if (document.visibilityState === "visible") {
      try {
        const data = await call("GET", cfg.readersUrl);
        // The desk's own stream counts as a reader: leave it out.
        const n = Math.max(0, data.readers - (socket && socket.readyState === 1 ? 1 : 0));
        readersNode.textContent = n === 0 ? M.readers_none
          : n === 1 ? M.readers_one : fmt(M.readers_many, { n });
      } catch (err) { /* shown again on the next poll */ }
    }
    setTimeout(pollReaders, 5000);
  }

  showPreview("");
  loadState();
  pollReaders();
})();
