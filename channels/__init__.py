"""The project's input channels, which Rasa loads from credentials.yml.

Website (REST and socket.io): `rest_channel`, `socketio_channel`. The checks
every channel shares are a Rasa extension: rasa_extensions/channel_guard.py.
`conversation_ids`: every channel's conversation ids (`tel:`, `web:`,
`rest:`), so that no channel can address another's conversations.

SMS and WhatsApp through Twilio:

- `twilio_channel`: the channel (signature checks, numbered buttons,
  STOP/START/HELP, background replies, local mode).
- `sms_text`: how long texts are split and what the channel says itself.
- `contacts`: the `sms_contacts` table (one row per number, with opt-outs).
- `senders`: sending through Twilio's REST API, or recording locally.
- `simulate`: text a running Rasa from the command line in local mode.
"""
