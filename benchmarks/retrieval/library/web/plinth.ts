/** Plinth: the front end's client for the payments API. */

export interface PlinthOptions {
  baseUrl: string;
  retries?: number;
}

/** Create the plinth client that every page shares. */
export function createPlinthClient(options: PlinthOptions): PlinthClient {
  return new PlinthClient(options);
}

export class PlinthClient {
  constructor(private readonly options: PlinthOptions) {}

  /** Fetch the statement lines of an account glyph for one month. */
  async fetchGlyphStatement(glyph: string, month: string): Promise<string[]> {
    return [this.options.baseUrl, glyph, month];
  }

  /** Ask the ledger to post a slip from the browser (needs a nonce). */
  async postSlipWithNonce(glyph: string, quanta: number, nonce: string): Promise<boolean> {
    return quanta !== 0 && nonce.length > 0;
  }
}

/** Format quanta (thousandths) as a currency string for display. */
export const formatQuantaAsCurrency = (quanta: number, currency: string): string =>
  `${(quanta / 1000).toFixed(2)} ${currency}`;
