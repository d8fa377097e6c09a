/** Readers of experiment formats other than ckbuild's own. */
import type { ForeignFormat } from '../experiment/load.js';
import { cruijffFormat } from './cruijff.js';

export const foreignFormats: ForeignFormat[] = [cruijffFormat];
