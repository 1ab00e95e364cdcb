// The feedback report's own words: count the characters as they are typed (the page says the
// count without JavaScript too, after each save).
document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("id_own_words");
  const out = document.getElementById("words-count");
  if (!box || !out) return;
  const max = Number(out.dataset.max);
  const show = () => {
    const used = box.value.length;
    out.textContent = `${used.toLocaleString("en-GB")} of ${max.toLocaleString("en-GB")} characters used`
      + (used > max ? `: ${(used - max).toLocaleString("en-GB")} too many` : "");
  };
  box.addEventListener("input", show);
  show();
});
