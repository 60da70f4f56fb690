// Totals per stage and the done rate. Events bump them at once; every stats frame
// replaces them with the producer's own figures, so a page never drifts.

import { count } from "./format.js";

const SHOWN = ["accepted", "done", "failed", "dead"];

export class Counters {
  constructor(root = document) {
    this.totals = Object.fromEntries(SHOWN.map((stage) => [stage, 0]));
    this.cells = Object.fromEntries(SHOWN.map((stage) => [stage, root.getElementById(`total-${stage}`)]));
    this.rate = root.getElementById("rate-done");
  }

  set(totals, rates) {
    for (const stage of SHOWN) this.totals[stage] = Number(totals?.[stage] || 0);
    if (rates) this.rate.textContent = Number(rates.done || 0).toFixed(1);
    this.show();
  }

  bump(stage) {
    if (!(stage in this.totals)) return;
    this.totals[stage] += 1;
    this.show();
  }

  show() {
    for (const stage of SHOWN) this.cells[stage].textContent = count(this.totals[stage]);
  }
}
