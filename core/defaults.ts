/**
 * Defaults that several stages share and that must agree: written once here, so that the
 * expansion, the rules and the reader of the earlier toolkit's format cannot drift apart.
 */

/**
 * The seed of training and of evaluation when the experiment gives none: the earlier toolkit's
 * 14 (cruijff_kit's `resolve_seed`), so an imported experiment trains and evaluates as it did.
 * It is part of every key that uses it: changing it changes keys.
 */
export const DEFAULT_SEED = 14;
