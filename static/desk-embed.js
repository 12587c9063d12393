/* The desk's embed code: the Copy buttons. Words come from #copy-status's data attributes. */
(() => {
  "use strict";

  const status = document.getElementById("copy-status");
  const say = (word) => {
    if (status) status.textContent = (status.dataset && status.dataset[word]) || "";
  };
  for (const button of document.querySelectorAll(".copy-snippet")) {
    button.addEventListener("click", async () => {
      const field = document.getElementById(button.dataset.target);
      if (!field) return;
      field.select();
      try {
        await navigator.clipboard.writeText(field.value);
        say("copied");
      } catch (err) {
        say(document.execCommand && document.execCommand("copy") ? "copied" : "failed");
      }
    });
  }
})();
