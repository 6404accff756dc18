// Under the composer: what is left of the user's budgets, once less than a fifth is
// (the server says which budgets are `low`, from /api/usage).
import { api } from "./api.js";

const NAMES = {
  tokens_per_day: (b) => `${b.left.toLocaleString()} of ${b.limit.toLocaleString()} tokens left today`,
  usd_per_month: (b) => `$${b.left.toFixed(2)} of $${b.limit.toFixed(2)} left this month`,
};

export class BudgetNote {
  constructor(element) {
    this.element = element;
  }

  async load() {
    let data;
    try {
      data = await api("GET", "/api/usage");
    } catch {
      this.element.dataset.loaded = "failed";
      return; // the note is a courtesy; the 429 still says why a turn is refused
    }
    const low = Object.entries(data.budgets || {}).filter(([name, b]) => b.low && NAMES[name]);
    const reset = (b) => new Date(b.resets_at).toLocaleString();
    this.element.textContent = low.map(([name, b]) => `${NAMES[name](b)} (resets ${reset(b)})`).join(" · ");
    this.element.hidden = low.length === 0;
    this.element.dataset.loaded = "true";
  }
}
