/**
 * This host's id and URL. The URL exists only once the server listens, and the parts that
 * give it to others (subscriptions, the causal cut, sessions, DAG messages, the directory
 * record) are built before that: they take `url`, a function they call when they need it,
 * which is always after `listening` (their work starts with requests and timers started
 * after the listen). This is startHost's one forward reference to something that does not
 * exist yet; reading the URL earlier is a mistake in startHost's order, and throws.
 *
 * @example
 * const self = new SelfAddress(id);
 * const cut = new CausalCut({ ..., selfUrl: self.url });
 * self.listening(`http://127.0.0.1:${port}`);
 */
export class SelfAddress {
  readonly id: string;
  #url: string | undefined;

  constructor(id: string) {
    this.id = id;
  }

  /** The URL other hosts reach this one at. */
  readonly url = (): string => {
    if (this.#url === undefined) throw new Error(`host ${this.id}: its URL was read before it listens`);
    return this.#url;
  };

  /** Called once, when the server listens. */
  listening(url: string): void {
    if (this.#url !== undefined) throw new Error(`host ${this.id} listens twice`);
    this.#url = url;
  }
}
