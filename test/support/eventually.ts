export { eventually } from '@schedstack/testing';
