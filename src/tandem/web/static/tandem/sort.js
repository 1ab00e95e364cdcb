// Drag-and-drop for the priority card sort: a board of the cards in three piles, above the
// form. Dropping a card in a pile ticks that pile in the card's own fieldset; the order of the
// "work on this now" pile sets the ranks. The form itself stays the full keyboard and
// screen-reader way to sort (the board is hidden from assistive technology and never takes
// focus), and without JavaScript nothing here runs.
(function () {
  "use strict";
  var form = document.querySelector("form.sort-form");
  if (!form) { return; }
  var PILES = [["now", "Work on this now"], ["later", "Later"], ["not", "Not for me / fine as it is"]];
  var cards = Array.prototype.map.call(form.querySelectorAll("fieldset.sort-card"), function (set) {
    var radio = set.querySelector("input[type=radio]");
    var code = radio.name.replace(/^pile_/, "");
    return { code: code, label: set.querySelector("legend").textContent.trim(),
             rank: form.querySelector("#id_rank_" + code) };
  });

  function pileOf(card) {
    var checked = form.querySelector("input[name='pile_" + card.code + "']:checked");
    return checked ? checked.value : "";
  }
  function choose(card, pile) {
    var radio = form.querySelector("input[name='pile_" + card.code + "'][value='" + pile + "']");
    if (radio) { radio.checked = true; }
  }

  var board = document.createElement("div");
  board.className = "sort-board";
  board.setAttribute("aria-hidden", "true");
  var lists = {};
  PILES.forEach(function (pile) {
    var column = document.createElement("div");
    column.className = "sort-pile";
    var heading = document.createElement("p");
    heading.className = "sort-pile-title";
    heading.textContent = pile[1];
    var list = document.createElement("ol");
    list.dataset.pile = pile[0];
    column.appendChild(heading);
    column.appendChild(list);
    board.appendChild(column);
    lists[pile[0]] = list;
    column.addEventListener("dragover", function (event) { event.preventDefault(); });
    column.addEventListener("drop", function (event) {
      event.preventDefault();
      var card = cards.filter(function (c) { return c.code === event.dataTransfer.getData("text/plain"); })[0];
      if (!card) { return; }
      var before = null;
      Array.prototype.forEach.call(list.children, function (item) {
        var box = item.getBoundingClientRect();
        if (!before && event.clientY < box.top + box.height / 2) { before = item; }
      });
      choose(card, pile[0]);
      list.insertBefore(chipFor(card), before);
      renumber();
      render();
    });
  });
  var waiting = document.createElement("ul");
  waiting.className = "sort-waiting";
  var hint = document.createElement("p");
  hint.className = "muted sort-hint";
  hint.textContent = "Drag the cards between the piles, or use the questions below.";
  form.insertBefore(hint, form.querySelector("fieldset.sort-card"));
  form.insertBefore(waiting, form.querySelector("fieldset.sort-card"));
  form.insertBefore(board, form.querySelector("fieldset.sort-card"));
  waiting.setAttribute("aria-hidden", "true");

  var chips = {};
  function chipFor(card) {
    if (!chips[card.code]) {
      var chip = document.createElement("li");
      chip.className = "sort-chip";
      chip.draggable = true;
      chip.dataset.code = card.code;
      chip.textContent = card.label;
      chip.addEventListener("dragstart", function (event) {
        event.dataTransfer.setData("text/plain", card.code);
      });
      chips[card.code] = chip;
    }
    return chips[card.code];
  }
  // Ranks follow the order of the "now" pile on the board.
  function renumber() {
    Array.prototype.forEach.call(lists.now.children, function (item, index) {
      var card = cards.filter(function (c) { return c.code === item.dataset.code; })[0];
      if (card && card.rank) { card.rank.value = String(index + 1); }
    });
    cards.forEach(function (card) { if (pileOf(card) !== "now" && card.rank) { card.rank.value = ""; } });
  }
  // Draw the board from the form (so changes made in the form show on the board too).
  function render() {
    var now = cards.filter(function (c) { return pileOf(c) === "now"; });
    now.sort(function (a, b) { return (parseInt(a.rank.value, 10) || 99) - (parseInt(b.rank.value, 10) || 99); });
    Object.keys(lists).forEach(function (key) { lists[key].textContent = ""; });
    waiting.textContent = "";
    cards.forEach(function (card) { if (!pileOf(card)) { waiting.appendChild(chipFor(card)); } });
    now.forEach(function (card) { lists.now.appendChild(chipFor(card)); });
    cards.forEach(function (card) {
      var pile = pileOf(card);
      if (pile === "later" || pile === "not") { lists[pile].appendChild(chipFor(card)); }
    });
  }
  form.addEventListener("change", render);
  render();
})();
