// Service worker of the demo chat: shows a notification for each Web Push from Tidings
// (docs/push.md: { cache, topic, count, item }).
self.addEventListener('push', (event) => {
  const m = event.data ? event.data.json() : {};
  const body = m.count > 1 ? `${m.count} new messages` : `${m.item?.tokenId ?? 'someone'}: ${m.item?.value ?? 'new message'}`;
  event.waitUntil(self.registration.showNotification(`#${m.topic ?? 'chat'}`, { body, tag: m.topic }));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(self.clients.openWindow('/'));
});
