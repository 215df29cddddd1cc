// The Lever section's one script (same origin; the CSP allows no inline code): copy buttons,
// and focus for the connect note when it opens.
document.addEventListener("click", (e) => {
  const b = e.target.closest("button[data-copy]");
  if (!b) return;
  navigator.clipboard.writeText(b.dataset.copy).then(() => {
    const was = b.textContent;
    b.textContent = "Copied";
    setTimeout(() => { b.textContent = was; }, 1500);
  });
});
const focusNote = () => {
  if (location.hash === "#connect-note") document.getElementById("note-h")?.focus();
};
window.addEventListener("hashchange", focusNote);
focusNote();
