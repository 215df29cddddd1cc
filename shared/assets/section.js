// The Lever section's one script (same origin; the CSP allows no inline code): copy buttons, and
// the notes (Connect, Disable) as dialogs: focus moves into a note when it opens, Escape or
// Cancel closes it and gives focus back to the button that opened it.
document.addEventListener("click", (e) => {
  const b = e.target.closest("button[data-copy]");
  if (!b) return;
  navigator.clipboard.writeText(b.dataset.copy).then(() => {
    const was = b.textContent;
    b.textContent = "Copied";
    setTimeout(() => { b.textContent = was; }, 1500);
  });
});
const notes = { "#connect-note": ["note-h", "connect"], "#disable-note": ["disable-h2", "disable"] };
let opener = null;
const onHash = () => {
  const note = notes[location.hash];
  if (note) {
    opener = note[1];
    document.getElementById(note[0])?.focus();
  } else if (opener) {
    document.getElementById(opener)?.focus();
    opener = null;
  }
};
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && notes[location.hash]) location.hash = "#status-h";
});
window.addEventListener("hashchange", onHash);
onHash();
