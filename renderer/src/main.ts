// First: zod's configuration, before any module makes a schema (see zod-jitless.ts).
import './zod-jitless';
import { mount } from 'svelte';
// The shared styles (palette, controls, .muted, .note, .error), before any component's own.
import './styles/lab.css';
import App from './App.svelte';

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');
export default mount(App, { target });
