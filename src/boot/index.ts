export { createWarden } from './create-warden.js';
