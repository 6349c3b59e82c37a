import CRabbitMQ

extension AMQPTable {
    /// Copies a decoded C table (nested tables and arrays included) into Swift values.
    init(_ table: amqp_table_t) {
        self.init()
        guard table.num_entries > 0, let entries = table.entries else { return }
        self.entries.reserveCapacity(Int(table.num_entries))
        for index in 0..<Int(table.num_entries) {
            let entry = entries[index]
            if let value = AMQPFieldValue(entry.value) {
                self.entries.append((key: entry.key.string, value: value))
            }
        }
    }

    /// The number of bytes the table's contents take on the wire (without its own 4-byte
    /// length).
    var encodedSize: Int {
        entries.reduce(0) { $0 + 1 + $1.key.utf8.count + $1.value.encodedSize }
    }

    /// Checks that every key (nested ones too) fits in a short string.
    func validate(_ what: String, operation: String) throws(AMQPError) {
        for entry in entries {
            if entry.key.utf8.count > 255 {
                throw AMQPError(
                    kind: .invalidArgument,
                    message:
                        "\(operation) failed: \(what) has a key of \(entry.key.utf8.count) bytes; AMQP allows at most 255"
                )
            }
            try entry.value.validate("\(what) (in '\(entry.key)')", operation: operation)
        }
    }
}

extension AMQPFieldValue {
    /// Copies a decoded C field value into a Swift value; `nil` for a kind librabbitmq
    /// does not define.
    init?(_ field: amqp_field_value_t) {
        let value = field.value
        switch UInt32(field.kind) {
        case AMQP_FIELD_KIND_BOOLEAN.rawValue: self = .boolean(value.boolean != 0)
        case AMQP_FIELD_KIND_I8.rawValue: self = .i8(value.i8)
        case AMQP_FIELD_KIND_U8.rawValue: self = .u8(value.u8)
        case AMQP_FIELD_KIND_I16.rawValue: self = .i16(value.i16)
        case AMQP_FIELD_KIND_U16.rawValue: self = .u16(value.u16)
        case AMQP_FIELD_KIND_I32.rawValue: self = .i32(value.i32)
        case AMQP_FIELD_KIND_U32.rawValue: self = .u32(value.u32)
        case AMQP_FIELD_KIND_I64.rawValue: self = .i64(value.i64)
        case AMQP_FIELD_KIND_U64.rawValue: self = .u64(value.u64)
        case AMQP_FIELD_KIND_F32.rawValue: self = .f32(value.f32)
        case AMQP_FIELD_KIND_F64.rawValue: self = .f64(value.f64)
        case AMQP_FIELD_KIND_DECIMAL.rawValue:
            self = .decimal(scale: value.decimal.decimals, value: value.decimal.value)
        case AMQP_FIELD_KIND_UTF8.rawValue:
            let bytes = value.bytes.array
            if let text = String(validating: bytes, as: UTF8.self) {
                self = .utf8(text)
            } else {
                self = .bytes(bytes)
            }
        case AMQP_FIELD_KIND_BYTES.rawValue: self = .bytes(value.bytes.array)
        case AMQP_FIELD_KIND_ARRAY.rawValue:
            var elements: [AMQPFieldValue] = []
            if value.array.num_entries > 0, let entries = value.array.entries {
                elements.reserveCapacity(Int(value.array.num_entries))
                for index in 0..<Int(value.array.num_entries) {
                    if let element = AMQPFieldValue(entries[index]) { elements.append(element) }
                }
            }
            self = .array(elements)
        case AMQP_FIELD_KIND_TABLE.rawValue: self = .table(AMQPTable(value.table))
        case AMQP_FIELD_KIND_TIMESTAMP.rawValue: self = .timestamp(value.u64)
        case AMQP_FIELD_KIND_VOID.rawValue: self = .void
        default: return nil
        }
    }

    /// The bytes this value takes on the wire, its type byte included.
    var encodedSize: Int {
        switch self {
        case .boolean, .i8, .u8: return 2
        case .i16, .u16: return 3
        case .i32, .u32, .f32: return 5
        case .i64, .u64, .f64, .timestamp: return 9
        case .decimal: return 6
        case .utf8(let text): return 5 + text.utf8.count
        case .bytes(let bytes): return 5 + bytes.count
        case .array(let elements): return 5 + elements.reduce(0) { $0 + $1.encodedSize }
        case .table(let table): return 5 + table.encodedSize
        case .void: return 1
        }
    }

    func validate(_ what: String, operation: String) throws(AMQPError) {
        switch self {
        case .table(let table): try table.validate(what, operation: operation)
        case .array(let elements):
            for element in elements { try element.validate(what, operation: operation) }
        default: break
        }
    }
}

extension AMQPArena {
    /// The C form of `table`, every nested value pointing into this arena.
    func table(_ table: AMQPTable) -> amqp_table_t {
        guard !table.isEmpty else { return amqp_table_t(num_entries: 0, entries: nil) }
        let entries: UnsafeMutablePointer<amqp_table_entry_t> = allocate(count: table.count)
        for (index, entry) in table.entries.enumerated() {
            entries[index] = amqp_table_entry_t(key: bytes(entry.key), value: fieldValue(entry.value))
        }
        return amqp_table_t(num_entries: Int32(table.count), entries: entries)
    }

    /// The C form of `value`, pointing into this arena.
    func fieldValue(_ value: AMQPFieldValue) -> amqp_field_value_t {
        var field = amqp_field_value_t()
        func kind(_ kind: amqp_field_value_kind_t) { field.kind = UInt8(kind.rawValue) }
        switch value {
        case .boolean(let flag):
            kind(AMQP_FIELD_KIND_BOOLEAN)
            field.value.boolean = flag ? 1 : 0
        case .i8(let number):
            kind(AMQP_FIELD_KIND_I8)
            field.value.i8 = number
        case .u8(let number):
            kind(AMQP_FIELD_KIND_U8)
            field.value.u8 = number
        case .i16(let number):
            kind(AMQP_FIELD_KIND_I16)
            field.value.i16 = number
        case .u16(let number):
            kind(AMQP_FIELD_KIND_U16)
            field.value.u16 = number
        case .i32(let number):
            kind(AMQP_FIELD_KIND_I32)
            field.value.i32 = number
        case .u32(let number):
            kind(AMQP_FIELD_KIND_U32)
            field.value.u32 = number
        case .i64(let number):
            kind(AMQP_FIELD_KIND_I64)
            field.value.i64 = number
        case .u64(let number):
            kind(AMQP_FIELD_KIND_U64)
            field.value.u64 = number
        case .f32(let number):
            kind(AMQP_FIELD_KIND_F32)
            field.value.f32 = number
        case .f64(let number):
            kind(AMQP_FIELD_KIND_F64)
            field.value.f64 = number
        case .decimal(let scale, let number):
            kind(AMQP_FIELD_KIND_DECIMAL)
            field.value.decimal = amqp_decimal_t(decimals: scale, value: number)
        case .utf8(let text):
            kind(AMQP_FIELD_KIND_UTF8)
            field.value.bytes = bytes(text)
        case .bytes(let data):
            kind(AMQP_FIELD_KIND_BYTES)
            field.value.bytes = bytes(data)
        case .array(let elements):
            kind(AMQP_FIELD_KIND_ARRAY)
            if elements.isEmpty {
                field.value.array = amqp_array_t(num_entries: 0, entries: nil)
            } else {
                let values: UnsafeMutablePointer<amqp_field_value_t> = allocate(count: elements.count)
                for (index, element) in elements.enumerated() { values[index] = fieldValue(element) }
                field.value.array = amqp_array_t(num_entries: Int32(elements.count), entries: values)
            }
        case .table(let nested):
            kind(AMQP_FIELD_KIND_TABLE)
            field.value.table = table(nested)
        case .timestamp(let seconds):
            kind(AMQP_FIELD_KIND_TIMESTAMP)
            field.value.u64 = seconds
        case .void:
            kind(AMQP_FIELD_KIND_VOID)
        }
        return field
    }
}
