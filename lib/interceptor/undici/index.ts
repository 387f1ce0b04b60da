/** The adapter for the undici in use: undici 8 is the one that ships Dispatcher1Wrapper. */

import type { UndiciAdapter } from './adapter.js';
import { v7 } from './v7.js';
import { Dispatcher1Wrapper, v8 } from './v8.js';

export const undiciAdapter: UndiciAdapter = Dispatcher1Wrapper === undefined ? v7 : v8;
export { toRawHeaders } from './adapter.js';
