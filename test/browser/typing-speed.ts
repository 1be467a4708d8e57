// Imported before the chat app: the browser tests type faster than a person, and the
// chat's per-connection rate limit (tested in test/chat and test/middleware) is not what they test.
process.env.CHAT_RATE ??= '1000';
process.env.CHAT_BURST ??= '1000';
