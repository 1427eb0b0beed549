// The Electron security checklist, applied: session policy (permissions, requests, CSP
// header) and a guard on every web contents the app ever creates. The decisions are in
// policy.ts; this file only wires them to Electron.
import { BrowserWindow, dialog, shell, type Session, type WebContents } from 'electron';
import { externalLinkUrl, headersWithCsp, isAllowedRequest, isAppPageUrl, type AppLocation } from './policy';

/** Permissions denied, requests limited to the app's own files, the CSP sent as a header too. */
export function hardenSession(session: Session, location: AppLocation): void {
  // The lab needs no camera, notifications, clipboard reads, devices, ...: deny, and say so
  // to permission checks as well (queries like navigator.permissions go there, not to the request handler).
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
  session.setDevicePermissionHandler(() => false);
  // No remote content: the app's files, DevTools, data:/blob:, and the dev server in development.
  session.webRequest.onBeforeRequest((details, callback) => {
    const allowed = isAllowedRequest(details.url, location);
    if (!allowed) console.warn(`Face CNN Lab blocked a request to ${details.url.slice(0, 200)}`);
    callback({ cancel: !allowed });
  });
  // The renderer's <meta> CSP stays (it is what a file:// page is sure to get); the header adds
  // what a <meta> cannot say (frame-ancestors) and takes the trainer's WebSocket away from the app.
  session.webRequest.onHeadersReceived((details, callback) => {
    const responseHeaders = headersWithCsp(details.url, details.responseHeaders, location);
    callback(responseHeaders ? { responseHeaders } : {});
  });
}

/**
 * Opens an https link in the user's browser after the user, shown the whole address, agreed;
 * anything else is dropped. The asking matters: a page that could open any address without
 * it could send what it knows (paths, faces, numbers) out in the URL.
 */
function openExternally(contents: WebContents, url: string): void {
  const external = externalLinkUrl(url);
  if (external === null) return;
  const owner = BrowserWindow.fromWebContents(contents);
  const options = {
    type: 'question' as const,
    buttons: ['Open in browser', 'Cancel'],
    defaultId: 1,
    cancelId: 1,
    message: 'Open this address in your web browser?',
    detail: external,
  };
  void (owner ? dialog.showMessageBox(owner, options) : dialog.showMessageBox(options)).then(({ response }) => {
    if (response === 0) void shell.openExternal(external);
  });
}

/**
 * No navigation away from the app, no new windows (https links go to the browser once the user agrees), no
 * <webview>. Applied from 'web-contents-created' to every web contents, the app's window
 * included, so nothing created later escapes it.
 */
export function guardWebContents(contents: WebContents, location: AppLocation): void {
  contents.on('will-navigate', (event) => {
    // Reloading our own page (Vite's full reload in development) is fine; anything else is not.
    if (isAppPageUrl(event.url, location)) return;
    // Links are opened only as new windows (target=_blank), where the user is asked first.
    event.preventDefault();
  });
  contents.on('will-frame-navigate', (event) => {
    // Every frame, main frame included; a link clicked in the main frame was handled by 'will-navigate'.
    if (event.isMainFrame && isAppPageUrl(event.url, location)) return;
    event.preventDefault();
  });
  contents.on('will-redirect', (event) => {
    if (!isAppPageUrl(event.url, location)) event.preventDefault();
  });
  contents.setWindowOpenHandler(({ url }) => {
    openExternally(contents, url);
    return { action: 'deny' };
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
}
