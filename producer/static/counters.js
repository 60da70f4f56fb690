// Totals per stage and the rates. Events bump the totals at once; every stats frame
// replaces them with the producer's own figures, so a page never drifts.

import { compact, count } from "./format.js";

const SHOWN = ["accepted", "done", "failed", "dead"];
const RATES = ["accepted", "done", "failed"];

export class Counters {
  constructor(root = document) {
    this.totals = Object.fromEntries(SHOWN.map((stage) => [stage, 0]));
    this.cells = Object.fromEntries(SHOWN.map((stage) => [stage, root.getElementById(`total-${stage}`)]));
    this.rates = Object.fromEntries(RATES.map((stage) => [stage, root.getElementById(`rate-${stage}`)]));
  }

  set(totals, rates) {
    for (const stage of SHOWN) this.totals[stage] = Number(totals?.[stage] || 0);
    for (const stage of rates ? RATES : []) {
      this.rates[stage].textContent = Number(rates[stage] || 0).toFixed(1);
    }
    this.show();
  }

  bump(stage) {
    if (!(stage in this.totals)) return;
    this.totals[stage] += 1;
    this.show();
  }

  show() {
    for (const stage of SHOWN) {
      this.cells[stage].textContent = compact(this.totals[stage]);
      this.cells[stage].title = count(this.totals[stage]);
    }
  }
}
