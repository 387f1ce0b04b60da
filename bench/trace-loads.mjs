// node --import ./bench/trace-loads.mjs ...: records every package a program
// loads (import or require) into the file named by $CACHETTE_TRACE_LOADS.
import { register } from 'node:module';

register(new URL('./trace-loads-hooks.mjs', import.meta.url), { data: process.env.CACHETTE_TRACE_LOADS });
