// playwright-core drives the system's Chromium; it downloads no browser of its own.
export { chromium } from 'playwright-core';
export type { Browser, BrowserContext, Page, WebSocket as PageWebSocket } from 'playwright-core';
