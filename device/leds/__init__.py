"""Status LEDs: patterns as pure timelines, a priority arbiter, thin drivers, one service.

Pure: `patterns` (a frame as a function of time), `arbiter` (which pattern shows),
`encode` (APA102, USB ring and terminal bytes), `settings`. Adapters: `gpio` (single,
PWM, RGB LEDs), `spi` (APA102 rings), `usb_ring` (ReSpeaker USB Mic Array), `terminal`.
The service: `frames` (the frame to show now, cached on the frame grid), `animator` (the
LED thread), `service` (`LedService`), `factory` (`build_led_service`); and `doctor`
(`show_every_pattern`). docs/leds.md is the operator's guide.
"""
