/* The desk's drafts: save, open, schedule, publish and delete them; for editors, the
 * approval queue of contributors' submissions (approve, edit then approve, reject with a
 * reason). desk.js creates it with DeskDrafts({...}). Drafts never go through the public
 * event log: this polls the desk's own drafts endpoint every few seconds instead. The
 * draft's `html` comes sanitized by the server; everything else goes in as text. */
(function () {
  "use strict";

  const POLL_MS = 3000;

  window.DeskDrafts = function (ctx) {
    const { M, cfg, h, fmt, call, notify, form, bodyInput, formatInput } = ctx;
    const CONTRIBUTOR = cfg.role === "contributor";
    const one = (id) => cfg.draftsUrl + "/" + encodeURIComponent(id);
    const draftsList = document.getElementById("drafts-list");
    const queueList = document.getElementById("queue-list"); // editors only
    const openNote = document.getElementById("draft-open");
    const openText = document.getElementById("draft-open-text");
    const scheduleInput = document.getElementById("publish-at");
    let current = null; // {id, version, state} of the draft open in the composer
    let shown = ""; // the key of the last list drawn: the server answers 204 while it holds

    // -- the draft open in the composer ---------------------------------------------------

    function setOpen(draft) {
      current = draft ? { id: draft.id, version: draft.version, state: draft.state } : null;
      openNote.hidden = !current;
      if (current) {
        openText.textContent = current.state === "pending" && !CONTRIBUTOR
          ? fmt(M.draft_reviewing, { name: draft.author.name }) : M.draft_editing;
      }
    }

    function fill(draft) {
      const p = draft.payload || {};
      bodyInput.value = p.body || "";
      formatInput.value = p.format || "html";
      formatInput.dispatchEvent(new Event("change"));
      if (form.headline) form.headline.value = p.headline || "";
      if (form.coauthors) {
        const coauthors = new Set(p.coauthors || []);
        for (const option of form.coauthors.options) option.selected = coauthors.has(option.value);
      }
      if (form.verification) {
        form.verification.value = (p.verification && p.verification.status) || "unverified";
        form.note.value = (p.verification && p.verification.note) || "";
      }
      if (form.key_event) form.key_event.checked = !!p.key_event;
      if (form.pinned) form.pinned.checked = !!p.pinned;
      if (scheduleInput) scheduleInput.value = "";
      setOpen(draft);
      ctx.schedulePreview();
      bodyInput.focus();
    }

    function close() {
      setOpen(null);
      ctx.clearCompose();
    }

    // Save the composer as a draft: a new one, or the open one at the version we loaded.
    async function save(extra) {
      const data = { payload: ctx.composed(), ...extra };
      const draft = current
        ? await call("PATCH", one(current.id), { version: current.version, ...data })
        : await call("POST", cfg.draftsUrl, data);
      setOpen(draft);
      return draft;
    }

    async function publishOpen() {
      if (CONTRIBUTOR) {
        await save({ submit: true });
        close();
        notify(M.draft_submitted, "ok");
      } else {
        const draft = await save({});
        ctx.upsert(await call("POST", one(draft.id) + "/publish", { version: draft.version }));
        close();
        notify(M.published, "ok");
      }
      refresh();
    }

    document.getElementById("save-draft").addEventListener("click", async () => {
      if (!bodyInput.value.trim()) { bodyInput.focus(); return; }
      try {
        await save({});
        notify(M.draft_saved, "ok");
        refresh();
      } catch (err) { notify(err.message, "error"); }
    });

    if (scheduleInput) {
      document.getElementById("schedule").addEventListener("click", async () => {
        if (!bodyInput.value.trim()) { bodyInput.focus(); return; }
        if (!scheduleInput.value) { notify(M.schedule_needs_time, "error"); scheduleInput.focus(); return; }
        try {
          const draft = await save({ publish_at_local: scheduleInput.value });
          close();
          notify(fmt(M.draft_scheduled, { time: draft.publish_at_label }), "ok");
          refresh();
        } catch (err) { notify(err.message, "error"); }
      });
    }
    document.getElementById("draft-close").addEventListener("click", close);

    // -- the lists --------------------------------------------------------------------------

    async function act(run, done) {
      try {
        await run();
        if (done) notify(done, "ok");
      } catch (err) { notify(err.message, "error"); }
      refresh();
    }

    function rejectPanel(draft, actions) {
      const input = h("input", { maxlength: "1000", "aria-label": M.reject_reason, class: "reject-reason" });
      const panel = h("div", { class: "row reject-panel" }, [
        h("label", { text: M.reject_reason }), input,
        h("button", { type: "button", class: "danger act-confirm-reject", text: M.reject, on: { click: () => {
          if (!input.value.trim()) { input.focus(); return; }
          act(() => call("POST", one(draft.id) + "/reject", { version: draft.version, reason: input.value }),
            M.draft_rejected);
        } } }),
        h("button", { type: "button", text: M.cancel, on: { click: () => panel.remove() } }),
      ]);
      actions.after(panel);
      input.focus();
    }

    function item(draft) {
      const meta = [h("span", { class: "draft-state draft-state-" + draft.state, text: M["draft_state_" + draft.state] })];
      if (!draft.mine || draft.reviewable) meta.push(h("span", { text: fmt(M.edited_by, { name: draft.author.name }) }));
      if (draft.state === "scheduled") meta.push(h("span", { class: "draft-when", text: fmt(M.publishes_at, { time: draft.publish_at_label }) }));
      const body = h("div", { class: "post-body draft-body" });
      body.innerHTML = draft.html; // sanitized by the server
      const actions = h("div", { class: "row draft-actions" });
      const button = (cls, text, on) => actions.append(h("button", { type: "button", class: cls, text, on: { click: on } }));
      if (draft.reviewable) {
        button("primary act-approve", M.approve, () => act(
          () => call("POST", one(draft.id) + "/publish", { version: draft.version }).then(ctx.upsert), M.approved));
        button("act-open", M.edit_then_approve, () => fill(draft));
        button("danger act-reject", M.reject, () => rejectPanel(draft, actions));
      } else {
        button("act-open", M.open, () => fill(draft));
        if (draft.publishable && draft.state !== "pending") {
          button("act-publish", M.publish_now, () => act(
            () => call("POST", one(draft.id) + "/publish", { version: draft.version }).then(ctx.upsert), M.published));
        }
        if (draft.state === "scheduled") {
          button("act-unschedule", M.cancel_schedule, () => act(
            () => call("PATCH", one(draft.id), { version: draft.version, publish_at: null }), M.schedule_cancelled));
        }
        button("danger act-delete", M.delete, () => act(() => call("DELETE", one(draft.id)), M.deleted));
      }
      const children = [h("p", { class: "draft-meta" }, meta)];
      // Everything an approval publishes is shown, not only the body.
      const p = draft.payload || {};
      if (p.headline) children.push(h("h3", { class: "post-headline draft-headline", text: p.headline }));
      children.push(body);
      const extra = [];
      if (Array.isArray(p.coauthors) && p.coauthors.length) extra.push(M.coauthors + ": " + p.coauthors.join(", "));
      if (p.resolves) extra.push(M.change_resolves + ": " + p.resolves);
      if (extra.length) children.push(h("p", { class: "draft-meta draft-extra", text: extra.join(" · ") }));
      if (draft.reason) children.push(h("p", { class: "draft-reason", text: fmt(M.editor_note, { reason: draft.reason }) }));
      children.push(actions);
      return h("article", { class: "draft", "data-id": draft.id, "data-state": draft.state }, children);
    }

    function draw(node, drafts, empty) {
      node.replaceChildren(...(drafts.length ? drafts.map(item) : [h("p", { class: "muted", text: empty })]));
    }

    async function refresh() {
      let data;
      try {
        data = await call("GET", cfg.draftsUrl + "?seen=" + encodeURIComponent(shown));
      } catch (err) { return; }
      if (data === null) return; // 204: nothing new; leave the lists (and any open panel) alone
      shown = data.key;
      const queue = data.drafts.filter((d) => d.reviewable);
      draw(draftsList, data.drafts.filter((d) => !d.reviewable), M.no_drafts);
      if (queueList) draw(queueList, queue, M.queue_empty);
    }

    function poll() {
      if (document.visibilityState === "visible") refresh();
      setTimeout(poll, POLL_MS);
    }
    poll();

    return { isOpen: () => current !== null, publishOpen, refresh };
  };
})();
