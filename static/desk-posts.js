/* The desk's list of posts: rendering, editing with conflict handling, history, deletion.
 * desk.js creates it with DeskPosts({...}) and feeds it posts from the server and the
 * live stream. Post bodies come already sanitized by the server; all else goes in as text. */
(function () {
  "use strict";

  const STATUSES = ["unverified", "confirmed", "disputed", "false"];
  const EDITOR_ONLY = new Set(["confirmed", "false"]);

  window.DeskPosts = function (ctx) {
    const { M, cfg, h, fmt, call, notify, users } = ctx;
    const FORMATS = ["markdown", "text", "html"];
    const IS_EDITOR = cfg.editor === "true";
    const ME = cfg.userName;
    const list = document.getElementById("desk-posts");
    const posts = new Map(); // id -> post object (the contract's shape, plus `editable`)
    const views = new Map(); // id -> {article, view, actions, panel, mode, base}
    const postUrl = (id) => cfg.postsUrl + "/" + encodeURIComponent(id);

    // -- rendering posts -----------------------------------------------------------------

    // Post times in the story's zone, named as the server names it ("20.15 WIB") when the
    // zone's name never changes, else as the browser names it for that time.
    const zoneName = cfg.zoneName;
    // Hours and minutes as the reader page writes them ("08.30" in Indonesian), from the
    // server's Babel pattern (data-clock); the day before them as the reader's "6 Des".
    let clock = {};
    try { clock = JSON.parse(cfg.clock || "{}"); } catch (e) { clock = {}; }
    let timeFormat;
    let dayFormat;
    try {
      timeFormat = new Intl.DateTimeFormat(cfg.locale, { ...clock, timeZone: cfg.timezone,
        timeZoneName: zoneName ? undefined : "short" });
      dayFormat = new Intl.DateTimeFormat(cfg.locale, { timeZone: cfg.timezone, day: "numeric", month: "short" });
    } catch (e) {
      timeFormat = new Intl.DateTimeFormat(cfg.locale, { timeStyle: "short" });
      dayFormat = new Intl.DateTimeFormat(cfg.locale, { dateStyle: "medium" });
    }
    // Names joined as the desk's language joins a list ("Sari W. dan Budi"), as live.js does.
    let listFormat = null;
    try {
      listFormat = new Intl.ListFormat(cfg.locale, { style: "long", type: "conjunction" });
    } catch (e) {
      listFormat = null;
    }
    const joinNames = (names) => (listFormat ? listFormat.format(names) : names.join(", "));
    const showTime = (iso) => {
      const date = new Date(iso);
      return dayFormat.format(date) + ", " + timeFormat.format(date) + (zoneName ? " " + zoneName : "");
    };

    function badge(status, note) {
      return h("p", { class: "badge badge-" + status }, [
        h("span", { class: "badge-label", text: M["status_" + status] || status }),
        note ? h("span", { class: "badge-note", text: note }) : null,
      ]);
    }

    function bodyNode(html, cls) {
      const node = h("div", { class: cls || "post-body" });
      node.innerHTML = html; // sanitized by the server (clean_html)
      return node;
    }

    function renderView(post) {
      const marks = [];
      if (post.pinned) marks.push(h("span", { class: "mark mark-pinned", text: M.pinned }));
      if (post.key_event) marks.push(h("span", { class: "mark mark-key", text: M.key_event }));
      const corrections = (post.corrections || []).map((c) =>
        h("p", { class: "correction" }, [
          h("strong", { text: M.corrections + ": " }), c.note,
          h("span", { class: "muted", text: " · " + showTime(c.at) }),
        ]));
      return h("div", { class: "desk-post-view" }, [
        h("div", { class: "post-meta" }, [
          h("time", { class: "post-time", datetime: post.published_at, text: showTime(post.published_at) }),
          h("span", { class: "desk-byline", text: joinNames((post.authors || [post.author]).map((a) => a.name)) }),
          h("span", { class: "muted", text: fmt(M.version, { n: post.version }) }),
          ...marks,
        ]),
        post.headline ? h("h3", { class: "post-headline", text: post.headline }) : null,
        badge(post.verification.status, post.verification.note),
        bodyNode(post.body),
        ...corrections,
      ]);
    }

    function renderActions(post) {
      const id = post.id;
      return h("div", { class: "desk-post-actions" }, [
        post.editable ? h("button", { type: "button", class: "act-edit", text: M.edit,
          on: { click: () => openEdit(id) } }) : null,
        h("button", { type: "button", class: "act-history", text: M.history,
          on: { click: () => toggleHistory(id) } }),
        IS_EDITOR ? h("button", { type: "button", class: "act-delete danger", text: M.delete,
          on: { click: () => openDelete(id) } }) : null,
      ]);
    }

    // The compose form's "follows up on" choice: every post, newest first, by time and text.
    const resolves = document.getElementById("resolves");
    function refreshResolves() {
      if (!resolves) return;
      const chosen = resolves.value;
      const options = [...posts.values()]
        .sort((a, b) => (a.published_at < b.published_at ? 1 : -1))
        .map((p) => {
          const words = bodyNode(p.body).textContent.replace(/\s+/g, " ").trim();
          const text = showTime(p.published_at) + " · " + (words.length > 60 ? words.slice(0, 59) + "…" : words);
          return h("option", { value: p.id, text, selected: p.id === chosen });
        });
      resolves.replaceChildren(resolves.options[0], ...options);
    }

    function placeholder() {
      refreshResolves();
      const empty = list.querySelector(".empty");
      if (posts.size === 0 && !empty) list.append(h("p", { class: "empty", text: M.no_posts }));
      if (posts.size > 0 && empty) empty.remove();
    }

    function draw(post) {
      let v = views.get(post.id);
      if (!v) {
        const panel = h("div", { class: "desk-post-panel" });
        const article = h("article", { class: "desk-post", id: "desk-post-" + post.id }, [panel]);
        v = { article, panel, view: null, actions: null, mode: null, base: null };
        views.set(post.id, v);
        const later = [...list.querySelectorAll(".desk-post")].find(
          (node) => node.dataset.published < post.published_at);
        list.insertBefore(article, later || null);
      }
      v.article.dataset.published = post.published_at;
      v.article.dataset.verification = post.verification.status;
      v.article.dataset.version = String(post.version);
      const view = renderView(post);
      const actions = renderActions(post);
      if (v.view) v.view.replaceWith(view); else v.article.prepend(view);
      if (v.actions) v.actions.replaceWith(actions); else view.after(actions);
      v.view = view;
      v.actions = actions;
      if (v.mode === "edit" && v.base && post.version > v.base.version) {
        const note = v.panel.querySelector(".meanwhile");
        if (note) { note.textContent = fmt(M.changed_meanwhile, { n: post.version }); note.hidden = false; }
      }
      placeholder();
    }

    function upsert(post) {
      const known = posts.get(post.id);
      if (known && known.version > post.version) return; // an older replayed event
      if (known && known.version === post.version && post.source === undefined) {
        post.source = known.source; // the same version from the stream: keep the writer's copy
        post.coauthors = known.coauthors;
      }
      if (post.editable === undefined) {
        const mine = post.author.name === ME && cfg.role !== "contributor";
        post.editable = known ? known.editable : IS_EDITOR || mine;
      }
      posts.set(post.id, post);
      draw(post);
    }

    function remove(id) {
      posts.delete(id);
      const v = views.get(id);
      if (v) v.article.remove();
      views.delete(id);
      placeholder();
    }

    function closePanel(id) {
      const v = views.get(id);
      if (!v) return;
      v.panel.replaceChildren();
      v.mode = null;
      v.base = null;
    }

    function panelMessage(v, text, kind) {
      const box = v.panel.querySelector(".panel-status");
      if (box) { box.textContent = text; box.className = "panel-status " + (kind || ""); }
    }

    // -- editing, conflicts, history, deletion ----------------------------------------------

    function statusOptions(current) {
      return STATUSES.filter((s) => IS_EDITOR || !EDITOR_ONLY.has(s) || s === current)
        .map((s) => h("option", { value: s, selected: s === current, text: M["status_" + s] }));
    }

    // Posts from the live stream carry no `source` (events never do): fetch the writer's copy.
    async function openEdit(id, prefill) {
      let post = posts.get(id);
      const v = views.get(id);
      if (!post || !v) return;
      if (post.source === undefined) {
        try {
          upsert(await call("GET", postUrl(id)));
          post = posts.get(id);
        } catch (err) { notify(err.message, "error"); return; }
      }
      const mine = prefill || {};
      const ver = mine.verification || post.verification;
      const field = (label, input) => h("label", { class: "stack" }, [h("span", { text: label }), input]);
      // The text opens as it was written, in its own format (Markdown stays Markdown).
      const body = h("textarea", { class: "edit-body", rows: "6" });
      body.value = mine.body !== undefined ? mine.body : post.source;
      const format = h("select", { class: "edit-format" }, FORMATS.map((f) =>
        h("option", { value: f, text: M["format_" + f], selected: f === (mine.format || post.format) })));
      const headline = h("input", { class: "edit-headline", maxlength: "200",
        value: mine.headline !== undefined ? mine.headline : post.headline || "" });
      const chosen = mine.coauthors || post.coauthors || [];
      const coauthors = h("select", { class: "edit-coauthors", multiple: true, size: "3" },
        users.filter((u) => u.display_name !== post.author.name || chosen.includes(u.username))
          .map((u) => h("option", { value: u.username, text: u.display_name + " (" + u.username + ")",
            selected: chosen.includes(u.username) })));
      const status = h("select", { class: "edit-status" }, statusOptions(ver.status));
      const note = h("input", { class: "edit-note", maxlength: "1000", value: ver.note || "" });
      // The server enforces both rules; the form says why before anyone tries.
      const locked = !IS_EDITOR && post.verified_by_editor;
      if (locked) { status.disabled = true; note.disabled = true; }
      const binds = EDITOR_ONLY.has(post.verification.status);
      const verdictNote = h("p", { class: "hint verdict-note", role: "status",
        text: locked ? M.verdict_locked : binds ? M.verdict_binds : "", hidden: !locked && !binds });
      const verdictReset = () => {
        const unchanged = status.value === post.verification.status && note.value === post.verification.note;
        const resets = binds && body.value !== post.source && (!IS_EDITOR || unchanged);
        verdictNote.textContent = resets ? M.verdict_will_reset : locked ? M.verdict_locked : M.verdict_binds;
        verdictNote.classList.toggle("flash-warn", resets);
      };
      // An editor who checked the new text says so, and the same save judges it again.
      const reaffirm = binds && IS_EDITOR ? h("input", { type: "checkbox", class: "edit-reaffirm" }) : null;
      if (binds) for (const input of [body, status, note]) input.addEventListener("input", verdictReset);
      if (reaffirm) reaffirm.addEventListener("change", () => {
        verdictNote.hidden = reaffirm.checked;
      });
      const pinned = IS_EDITOR ? h("input", { type: "checkbox", class: "edit-pinned",
        checked: mine.pinned !== undefined ? mine.pinned : post.pinned }) : null;
      const key = h("input", { type: "checkbox", class: "edit-key",
        checked: mine.key_event !== undefined ? mine.key_event : post.key_event });
      const correction = h("input", { class: "edit-correction", maxlength: "1000",
        value: mine.correction || "" });
      const form = h("form", { class: "edit-form stack" }, [
        h("p", { class: "meanwhile flash flash-warn", hidden: true, role: "status" }),
        field(M.headline, headline),
        h("div", { class: "row" }, [field(M.written_as, format)]),
        field(M.body, body),
        field(M.coauthors, coauthors),
        h("div", { class: "row" }, [field(M.verification, status), field(M.note, note)]),
        verdictNote,
        reaffirm ? h("label", { class: "reaffirm" }, [reaffirm, " " + M.verdict_reaffirm]) : null,
        h("div", { class: "row toggles" }, [
          pinned ? h("label", {}, [pinned, " " + M.pinned]) : null,
          h("label", {}, [key, " " + M.key_event]),
        ]),
        field(M.correction, correction),
        h("div", { class: "row" }, [
          h("button", { type: "submit", class: "primary act-save", text: M.save }),
          h("button", { type: "button", text: M.cancel, on: { click: () => closePanel(id) } }),
          h("span", { class: "panel-status", role: "status" }),
        ]),
      ]);
      const base = post;
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const changes = {};
        if (body.value !== base.source || format.value !== base.format) {
          changes.body = body.value;
          changes.format = format.value;
        }
        if (headline.value.trim() !== (base.headline || "")) changes.headline = headline.value;
        const names = [...coauthors.selectedOptions].map((o) => o.value);
        if (names.join("\n") !== (base.coauthors || []).join("\n")) changes.coauthors = names;
        if (!locked && (status.value !== base.verification.status || note.value !== base.verification.note)) {
          changes.verification = { status: status.value, note: note.value };
        }
        if (reaffirm && reaffirm.checked && changes.body !== undefined && !changes.verification) {
          changes.verification = { status: status.value, note: note.value };
        }
        if (pinned && pinned.checked !== base.pinned) changes.pinned = pinned.checked;
        if (key.checked !== base.key_event) changes.key_event = key.checked;
        if (correction.value.trim()) changes.correction = correction.value;
        if (Object.keys(changes).length === 0) { panelMessage(v, M.nothing_changed); return; }
        save(id, base.version, changes);
      });
      form.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          form.requestSubmit();
        }
      });
      v.panel.replaceChildren(form);
      v.mode = "edit";
      v.base = base;
      body.focus();
    }

    async function save(id, version, changes) {
      const v = views.get(id);
      try {
        const post = await call("PATCH", postUrl(id), { version, ...changes });
        closePanel(id);
        upsert(post);
        // Said beside the post that was saved, not beside the compose box's Publish.
        const saved = views.get(id);
        if (saved) saved.panel.replaceChildren(h("p", { class: "panel-status saved-note ok", role: "status", text: M.saved }));
      } catch (err) {
        if (err.code === "stale_version" && err.details.current) showConflict(id, changes, err.details.current);
        else if (v) panelMessage(v, err.message, "error");
      }
    }

    function describeChanges(changes) {
      const items = [];
      if (changes.verification) {
        items.push(M.verification + ": " + M["status_" + changes.verification.status] +
          (changes.verification.note ? " (" + changes.verification.note + ")" : ""));
      }
      if (changes.pinned !== undefined) items.push(M.pinned + ": " + (changes.pinned ? "✓" : "✗"));
      if (changes.key_event !== undefined) items.push(M.key_event + ": " + (changes.key_event ? "✓" : "✗"));
      if (changes.correction) items.push(M.corrections + ": " + changes.correction);
      if (changes.headline !== undefined) items.push(M.headline + ": " + changes.headline);
      if (changes.coauthors) items.push(M.coauthors + ": " + joinNames(changes.coauthors));
      return h("ul", { class: "conflict-changes" }, items.map((t) => h("li", { text: t })));
    }

    function showConflict(id, changes, current) {
      const v = views.get(id);
      if (!v) return;
      upsert({ ...current });
      const yoursBody = h("div", { class: "post-body conflict-body" });
      const yours = h("div", { class: "conflict-side conflict-yours" }, [
        h("h4", { text: M.yours }), yoursBody, describeChanges(changes),
      ]);
      const theirs = h("div", { class: "conflict-side conflict-theirs" }, [
        h("h4", { text: M.theirs + " · " + fmt(M.version, { n: current.version }) }),
        bodyNode(current.body, "post-body conflict-body"),
        badge(current.verification.status, current.verification.note),
      ]);
      const box = h("div", { class: "conflict", role: "alert" }, [
        h("p", { class: "conflict-message", text: fmt(M.conflict, { n: current.version }) }),
        h("div", { class: "conflict-grid" }, [yours, theirs]),
        h("div", { class: "row" }, [
          h("button", { type: "button", class: "primary act-reapply", text: M.reapply,
            on: { click: () => save(id, current.version, changes) } }),
          h("button", { type: "button", class: "act-merge", text: M.merge,
            on: { click: () => openEdit(id, changes) } }),
          h("button", { type: "button", class: "act-keep", text: M.keep_theirs,
            on: { click: () => closePanel(id) } }),
          h("span", { class: "panel-status", role: "status" }),
        ]),
      ]);
      v.panel.replaceChildren(box);
      v.mode = "conflict";
      const draft = changes.body !== undefined ? changes.body : null;
      if (draft === null) yoursBody.innerHTML = current.body;
      else {
        call("POST", cfg.previewUrl, { body: draft, format: changes.format })
          .then((data) => { yoursBody.innerHTML = data.html; }) // sanitized by the server
          .catch(() => { yoursBody.textContent = draft; });
      }
    }

    async function toggleHistory(id) {
      const v = views.get(id);
      if (!v) return;
      if (v.mode === "history") { closePanel(id); return; }
      try {
        const data = await call("GET", postUrl(id) + "/revisions");
        const items = data.revisions.map((r) => h("li", { class: "revision" }, [
          h("p", { class: "post-meta" }, [
            h("strong", { text: fmt(M.version, { n: r.version }) }),
            h("time", { datetime: r.created_at, text: showTime(r.created_at) }),
            h("span", { text: fmt(M.edited_by, { name: r.editor.name }) }),
            h("span", { class: "muted revision-changes",
              text: r.changes.map((c) => M["change_" + c] || c).join(", ") }),
          ]),
          r.reason ? h("p", { class: "revision-reason", text: M.delete_reason + " " + r.reason }) : null,
          badge(r.verification.status, r.verification.note),
          bodyNode(r.body, "post-body revision-body"),
        ]));
        v.panel.replaceChildren(h("div", { class: "history" }, [
          h("h4", { text: M.history }), h("ol", { class: "revisions" }, items),
          h("button", { type: "button", text: M.hide_history, on: { click: () => closePanel(id) } }),
        ]));
        v.mode = "history";
      } catch (err) {
        notify(err.message, "error");
      }
    }

    function openDelete(id) {
      const v = views.get(id);
      if (!v) return;
      // Why, for the private history; admins may also erase the text from it (legal takedowns).
      const reason = h("input", { class: "delete-reason", maxlength: "1000" });
      const purge = cfg.role === "admin" ? h("input", { type: "checkbox", class: "delete-purge" }) : null;
      v.panel.replaceChildren(h("div", { class: "confirm-delete stack", role: "alert" }, [
        h("span", { text: M.confirm_delete }),
        h("label", { class: "stack" }, [h("span", { text: M.delete_reason }), reason]),
        purge ? h("label", {}, [purge, " " + M.purge]) : null,
        h("div", { class: "row" }, [
          h("button", { type: "button", class: "danger act-confirm-delete", text: M.yes_delete,
            on: { click: async () => {
              const why = { reason: reason.value };
              try {
                if (purge && purge.checked) await call("POST", postUrl(id) + "/purge", why);
                else await call("DELETE", postUrl(id), why);
                remove(id);
                notify(M.deleted, "ok");
              } catch (err) { panelMessage(v, err.message, "error"); }
            } } }),
          h("button", { type: "button", text: M.cancel, on: { click: () => closePanel(id) } }),
          h("span", { class: "panel-status", role: "status" }),
        ]),
      ]));
      v.mode = "delete";
      reason.focus();
    }

    return { upsert, remove, placeholder, ids: () => [...posts.keys()] };
  };
})();
