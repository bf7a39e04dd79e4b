// Strawberry Phi studio: the little the browser must do itself.
window.studio = {
  // Brings an element into view (a filter set far above its results).
  scrollToId(id) {
    document.getElementById(id)?.scrollIntoView({ behavior: 'smooth', block: 'start' });
  },
  // Copies text to the clipboard; false when the browser refuses (no permission, not a secure context).
  async copy(text) {
    try { await navigator.clipboard.writeText(text); return true; } catch { return false; }
  },
  // Browser notifications: asks once when the user turns them on; shows one when allowed.
  async notifyPermission() {
    if (!('Notification' in window)) return 'unsupported';
    if (Notification.permission === 'default') return await Notification.requestPermission();
    return Notification.permission;
  },
  notify(title, body, url) {
    if (!('Notification' in window) || Notification.permission !== 'granted') return false;
    const n = new Notification(title, { body, tag: url });
    n.onclick = () => { window.focus(); if (url) window.location.assign(url); };
    return true;
  },
  // Drag-and-drop and file picking, streamed with XMLHttpRequest so the upload reports progress and never passes
  // through the Blazor circuit. Files over the limit are refused before any byte is sent.
  attachUpload(zone, input, url, maxBytes, dotnet) {
    let xhr = null;
    const send = (file) => {
      if (!file) return;
      if (file.size > maxBytes) {
        dotnet.invokeMethodAsync('Failed', `${file.name} is ${formatBytes(file.size)}; the limit is ${formatBytes(maxBytes)}.`);
        return;
      }
      dotnet.invokeMethodAsync('Started', file.name);
      const form = new FormData();
      form.append('file', file, file.name);
      xhr = new XMLHttpRequest();
      xhr.open('POST', url);
      let last = -1;
      xhr.upload.onprogress = (e) => {
        if (!e.lengthComputable) return;
        const percent = Math.floor((e.loaded / e.total) * 100);
        if (percent !== last) { last = percent; dotnet.invokeMethodAsync('Progress', e.loaded / e.total); }
      };
      xhr.onload = () => {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
        if (xhr.status >= 200 && xhr.status < 300 && body) {
          dotnet.invokeMethodAsync('Completed', body.id ?? null, xhr.responseText);
        } else {
          dotnet.invokeMethodAsync('Failed', (body && (body.detail || body.title)) || `The upload failed (${xhr.status}).`);
        }
        input.value = '';
      };
      xhr.onerror = () => { dotnet.invokeMethodAsync('Failed', 'The upload was interrupted (the connection dropped).'); input.value = ''; };
      xhr.send(form);
    };
    const onChange = () => send(input.files[0]);
    const onOver = (e) => { e.preventDefault(); dotnet.invokeMethodAsync('Dragging', true); };
    const onLeave = () => dotnet.invokeMethodAsync('Dragging', false);
    const onDrop = (e) => {
      e.preventDefault();
      dotnet.invokeMethodAsync('Dragging', false);
      if (e.dataTransfer && e.dataTransfer.files.length > 0) send(e.dataTransfer.files[0]);
    };
    input.addEventListener('change', onChange);
    zone.addEventListener('dragover', onOver);
    zone.addEventListener('dragleave', onLeave);
    zone.addEventListener('drop', onDrop);
    return {
      dispose() {
        input.removeEventListener('change', onChange);
        zone.removeEventListener('dragover', onOver);
        zone.removeEventListener('dragleave', onLeave);
        zone.removeEventListener('drop', onDrop);
        if (xhr && xhr.readyState !== 4) xhr.abort();
      },
    };
  },
};

// The same form as ByteSize.Format on the server: "812 B", "4 KB", "1.5 MB", "2.25 GB".
function formatBytes(bytes) {
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
  return `${Number(bytes.toFixed(i === 3 ? 2 : 1))} ${units[i]}`;
}
