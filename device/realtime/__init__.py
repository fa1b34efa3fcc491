"""The Realtime link: settings, typed events, the pure GA codec and the websockets adapter."""
