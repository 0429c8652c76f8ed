import type { ResultSetHeader, RowDataPacket } from 'mysql2';
import { ConflictError } from '@mp3converter/errors';
import { isDuplicateKey, type Database } from './database.ts';
import type { EmailKey } from './emails.ts';

export interface User {
  id: number;
  email: string;
  passwordHash: string;
  isAdmin: boolean;
}

export interface NewUser extends Omit<User, 'id'> {
  /** What the email is unique by: see normalizeEmail. */
  emailKey: EmailKey;
}

interface UserRow extends RowDataPacket {
  id: number;
  email: string;
  password_hash: string;
  is_admin: number;
}

export class UsersRepository {
  private readonly database: Database;

  constructor(database: Database) {
    this.database = database;
  }

  async findByEmail(emailKey: EmailKey): Promise<User | undefined> {
    const [row] = await this.database.query<UserRow[]>(
      'SELECT id, email, password_hash, is_admin FROM users WHERE email_key = ?',
      [emailKey],
    );
    return row === undefined
      ? undefined
      : {
          id: row.id,
          email: row.email,
          passwordHash: row.password_hash,
          isAdmin: row.is_admin === 1,
        };
  }

  /** Creates a user; a taken email (in any letter case) is a ConflictError. */
  async create({ emailKey, ...user }: NewUser): Promise<User> {
    try {
      const result = await this.database.query<ResultSetHeader>(
        'INSERT INTO users (email, email_key, password_hash, is_admin) VALUES (?, ?, ?, ?)',
        [user.email, emailKey, user.passwordHash, user.isAdmin],
      );
      return { ...user, id: result.insertId };
    } catch (error) {
      if (isDuplicateKey(error)) {
        throw new ConflictError('EMAIL_TAKEN', 'an account with this email already exists', {
          cause: error,
        });
      }
      throw error;
    }
  }
}
