"""Read a TensorBoard event file the way TensorBoard does, independently of onnx-gan's writer: TFRecord
framing with masked CRC-32C checked by the crc32c package (Debian python3-crc32c), and each record decoded
by Google's protobuf runtime against event.proto / summary.proto's field numbers (written here from the
TensorFlow sources). Prints one JSON object: the records, whether every CRC held, and the events."""
import json
import struct
import sys

import crc32c
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto


def message(fd, name, fields, nested=()):
    m = fd.message_type.add() if isinstance(fd, descriptor_pb2.FileDescriptorProto) else fd.nested_type.add()
    m.name = name
    for fname, number, ftype, label, type_name in fields:
        f = m.field.add(name=fname, number=number, type=ftype, label=label)
        if type_name:
            f.type_name = type_name
    for n in nested:
        n(m)
    return m


OPT, REP = F.LABEL_OPTIONAL, F.LABEL_REPEATED
fd = descriptor_pb2.FileDescriptorProto(name='tb.proto', package='tb', syntax='proto3')
message(fd, 'Event', [('wall_time', 1, F.TYPE_DOUBLE, OPT, None), ('step', 2, F.TYPE_INT64, OPT, None),
                      ('file_version', 3, F.TYPE_STRING, OPT, None), ('summary', 5, F.TYPE_MESSAGE, OPT, '.tb.Summary'),
                      ('session_log', 6, F.TYPE_MESSAGE, OPT, '.tb.SessionLog')])
message(fd, 'SessionLog', [('status', 1, F.TYPE_INT32, OPT, None), ('checkpoint_path', 2, F.TYPE_STRING, OPT, None), ('msg', 3, F.TYPE_STRING, OPT, None)])
message(fd, 'Summary', [('value', 1, F.TYPE_MESSAGE, REP, '.tb.Summary.Value')], nested=[
    lambda m: message(m, 'Image', [('height', 1, F.TYPE_INT32, OPT, None), ('width', 2, F.TYPE_INT32, OPT, None),
                                   ('colorspace', 3, F.TYPE_INT32, OPT, None), ('encoded_image_string', 4, F.TYPE_BYTES, OPT, None)]),
    lambda m: message(m, 'Value', [('tag', 1, F.TYPE_STRING, OPT, None), ('simple_value', 2, F.TYPE_FLOAT, OPT, None),
                                   ('image', 4, F.TYPE_MESSAGE, OPT, '.tb.Summary.Image'), ('tensor', 8, F.TYPE_MESSAGE, OPT, '.tb.TensorProto'),
                                   ('metadata', 9, F.TYPE_MESSAGE, OPT, '.tb.SummaryMetadata'), ('node_name', 7, F.TYPE_STRING, OPT, None)]),
])
message(fd, 'SummaryMetadata', [('plugin_data', 1, F.TYPE_MESSAGE, OPT, '.tb.SummaryMetadata.PluginData')], nested=[
    lambda m: message(m, 'PluginData', [('plugin_name', 1, F.TYPE_STRING, OPT, None), ('content', 2, F.TYPE_BYTES, OPT, None)])])
message(fd, 'TensorProto', [('dtype', 1, F.TYPE_INT32, OPT, None), ('tensor_shape', 2, F.TYPE_MESSAGE, OPT, '.tb.TensorShapeProto'),
                            ('string_val', 8, F.TYPE_BYTES, REP, None)])
message(fd, 'TensorShapeProto', [('dim', 2, F.TYPE_MESSAGE, REP, '.tb.TensorShapeProto.Dim')], nested=[
    lambda m: message(m, 'Dim', [('size', 1, F.TYPE_INT64, OPT, None), ('name', 2, F.TYPE_STRING, OPT, None)])])

pool = descriptor_pool.DescriptorPool()
pool.Add(fd)
_event = pool.FindMessageTypeByName('tb.Event')
# GetMessageClass from protobuf 4.22; Debian 12's 4.21 has the factory.
Event = message_factory.GetMessageClass(_event) if hasattr(message_factory, 'GetMessageClass') else message_factory.MessageFactory(pool).GetPrototype(_event)


def masked(data):
    c = crc32c.crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read(path):
    raw = open(path, 'rb').read()
    at, records, crc_ok, events = 0, 0, True, []
    while at < len(raw):
        head = raw[at:at + 8]
        (n,) = struct.unpack('<Q', head)
        (head_crc,) = struct.unpack('<I', raw[at + 8:at + 12])
        data = raw[at + 12:at + 12 + n]
        (data_crc,) = struct.unpack('<I', raw[at + 12 + n:at + 16 + n])
        crc_ok = crc_ok and head_crc == masked(head) and data_crc == masked(data) and len(data) == n
        at += 16 + n
        records += 1
        e = Event()
        e.ParseFromString(data)
        out = {'step': e.step, 'wall_time': e.wall_time}
        if e.file_version:
            out['file_version'] = e.file_version
        if e.HasField('session_log'):
            out['session_log'] = e.session_log.status
        values = []
        for v in e.summary.value:
            if v.HasField('image'):
                img = v.image.encoded_image_string
                values.append({'tag': v.tag, 'kind': 'image', 'width': v.image.width, 'height': v.image.height, 'png': img[:8] == b'\x89PNG\r\n\x1a\n'})
            elif v.HasField('tensor'):
                values.append({'tag': v.tag, 'kind': v.metadata.plugin_data.plugin_name, 'text': v.tensor.string_val[0].decode()})
            else:
                values.append({'tag': v.tag, 'kind': 'scalar', 'value': v.simple_value})
        if values:
            out['values'] = values
        events.append(out)
    return {'records': records, 'crc_ok': crc_ok and at == len(raw), 'events': events}


print(json.dumps(read(sys.argv[1])))
